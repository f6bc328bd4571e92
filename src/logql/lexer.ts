/**
 * LogQL tokens, following Loki's lexer (pkg/logql/syntax/lex.go): `#`
 * comments, Go strings (`"..."`, backticks), numbers, `[5m]` ranges scanned
 * as one token, durations (`5m` after a number, used by `offset` and label
 * filters), identifiers, and operators by longest match.
 */
import { parseDuration } from '../config/duration.js';
import { LogQLError, type Pos } from './ast.js';
import { GoStringError, unquoteGoString } from '../lib/go-string.js';
import { parseHumanBytes } from './stages/units.js';

/** Parser flags of `| logfmt` (lex.go parserFlags). */
const PARSER_FLAGS = new Set(['--strict', '--keep-empty']);

export type TokenKind = 'ident' | 'number' | 'string' | 'range' | 'duration' | 'bytes' | 'flag' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Source text. */
  text: string;
  /** ident: as written; string: unquoted value; range: text between the brackets; op: the operator. */
  value: string;
  /** number: value; range/duration: milliseconds. */
  num: number;
  offset: number;
  end: number;
}

const OPERATORS = [
  '|=', '|~', '|>', '!=', '!~', '!>', '=~', '==', '>=', '<=',
  '=', '>', '<', '|', '{', '}', '(', ')', ',', '+', '-', '*', '/', '%', '^', '.',
];

/** Go time.ParseDuration units beyond Prometheus' (ns, us, µs), accepted by Loki's lexer as a fallback. */
const GO_DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*$/;
const GO_UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Prometheus duration first, then Go's syntax (fractions, ns/us), as Loki's lexer does. */
export function parseLogQLDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    if (!GO_DURATION.test(text)) return undefined;
    let total = 0;
    for (const m of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * GO_UNIT_MS[m[2]!]!;
    return total;
  }
}

export class Lexer {
  private readonly lineStarts: number[] = [0];
  readonly tokens: Token[] = [];

  constructor(readonly src: string) {
    for (let i = 0; i < src.length; i++) if (src.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    this.scanAll();
  }

  /** 1-based line and column (columns count code points) of a UTF-16 offset. */
  pos(offset: number): Pos {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const start = this.lineStarts[lo]!;
    const column = [...this.src.slice(start, offset)].length + 1;
    return { offset, line: lo + 1, column };
  }

  private fail(message: string, offset: number): never {
    throw new LogQLError(message, this.pos(offset), false);
  }

  private push(kind: TokenKind, offset: number, end: number, value: string, num = 0): void {
    this.tokens.push({ kind, text: this.src.slice(offset, end), value, num, offset, end });
  }

  private scanAll(): void {
    const s = this.src;
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        i++;
        continue;
      }
      if (c === '#') {
        while (i < s.length && s[i] !== '\n') i++;
        continue;
      }
      if (c === '"' || c === '`') {
        i = this.scanString(i);
        continue;
      }
      if (c === '[') {
        const close = s.indexOf(']', i + 1);
        if (close < 0) this.fail("missing closing ']' in duration", i);
        const inner = s.slice(i + 1, close);
        let ms: number;
        try {
          ms = parseDuration(inner);
        } catch {
          this.fail(`not a valid duration string: "${inner}"`, i + 1);
        }
        this.push('range', i, close + 1, inner, ms);
        i = close + 1;
        continue;
      }
      if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] ?? ''))) {
        i = this.scanNumber(i);
        continue;
      }
      if (/[A-Za-z_]/.test(c)) {
        let j = i + 1;
        while (j < s.length && /[A-Za-z0-9_]/.test(s[j]!)) j++;
        this.push('ident', i, j, s.slice(i, j));
        i = j;
        continue;
      }
      if (c === '-' && s[i + 1] === '-') {
        const flag = /^--[\p{L}-]*/u.exec(s.slice(i, i + 64))![0];
        if (PARSER_FLAGS.has(flag)) {
          this.push('flag', i, i + flag.length, flag);
          i += flag.length;
          continue;
        }
      }
      const op = OPERATORS.find((o) => s.startsWith(o, i));
      if (op === undefined) this.fail(`unexpected character ${JSON.stringify(String.fromCodePoint(s.codePointAt(i)!))}`, i);
      this.push('op', i, i + op.length, op);
      i += op.length;
    }
    this.push('eof', s.length, s.length, '');
  }

  private scanString(i: number): number {
    const s = this.src;
    const q = s[i]!;
    let j = i + 1;
    while (j < s.length && s[j] !== q) {
      if (q === '"' && s[j] === '\n') this.fail('literal not terminated', i);
      if (q === '"' && s[j] === '\\') j++;
      j++;
    }
    if (j >= s.length) this.fail('literal not terminated', i);
    const raw = s.slice(i, j + 1);
    let value: string;
    try {
      value = unquoteGoString(raw);
    } catch (e) {
      if (e instanceof GoStringError) this.fail(e.message, i + e.offset);
      throw e;
    }
    this.push('string', i, j + 1, value);
    return j + 1;
  }

  private scanNumber(i: number): number {
    const s = this.src;
    const m = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(s.slice(i, i + 64))!;
    const end = i + m[0].length;
    // A number directly followed by duration characters is a duration (`5m`, `1h30m`, `1.5s`).
    const tail = /^[0-9.nuµmshdwy]+/.exec(s.slice(end, end + 64));
    if (tail !== null && !/[eE]/.test(m[0])) {
      const text = m[0] + tail[0];
      const ms = parseLogQLDuration(text);
      if (ms !== undefined) {
        this.push('duration', i, end + tail[0].length, text, ms);
        return end + tail[0].length;
      }
    }
    // Then a bytes size (`20MB`, `1.5KiB`), as lex.go tryScanBytes.
    const btail = /^[0-9.BikKMGTP]+/.exec(s.slice(end, end + 64));
    if (btail !== null && !/[eE]/.test(m[0])) {
      const b = parseHumanBytes(m[0] + btail[0]);
      if (b.ok) {
        this.push('bytes', i, end + btail[0].length, m[0] + btail[0], b.value);
        return end + btail[0].length;
      }
    }
    const v = Number(m[0]);
    if (!Number.isFinite(v)) this.fail(`unable to parse literal as a float: ${m[0]}: value out of range`, i);
    this.push('number', i, end, m[0], v);
    return end;
  }
}
