/**
 * `| logfmt [--strict] [--keep-empty] [a="key", …]` (pkg/logql/log/parser.go
 * LogfmtParser, LogfmtExpressionParser; the decoder is
 * pkg/logql/log/logfmt/decode.go, a fork of go-logfmt).
 *
 * Non-strict (default): a malformed pair is skipped and parsing goes on.
 * `--strict`: parsing stops at the first malformed pair and the line gets
 * `__error__="LogfmtParserErr"` with the decoder's message (byte position,
 * 1-based) in `__error_details__`. Empty values (`a=`, bare `a`) are not
 * extracted unless `--keep-empty`. Positions count UTF-8 bytes as Go does.
 */
import { Category, type LabelsBuilder } from './labels-builder.js';
import type { ExtractionExpr } from '../ast.js';
import { type Stage, isValidLabelName, sanitizeLabelKey } from './stage.js';

export const LOGFMT_ERROR = 'LogfmtParserErr';

/** One pass over a logfmt line, pair by pair (decode.go Decoder). */
export class LogfmtDecoder {
  private line = '';
  private pos = 0;
  key: string | undefined;
  value: string | undefined;
  /** First syntax error: message and the UTF-16 index it refers to. */
  err: { msg: string; at: number } | undefined;

  reset(line: string): void {
    this.line = line;
    this.pos = 0;
    this.err = undefined;
  }

  get eol(): boolean {
    return this.pos >= this.line.length;
  }

  /** Go's SyntaxError text, with the byte position. */
  errorText(): string | undefined {
    if (this.err === undefined) return undefined;
    const bytePos = Buffer.byteLength(this.line.slice(0, this.err.at)) + 1;
    return `logfmt syntax error at pos ${bytePos} : ${this.err.msg}`;
  }

  private fail(msg: string): void {
    this.err = { msg, at: this.pos };
  }

  private unexpected(c: string): void {
    this.fail(`unexpected ${c === '"' ? "'\"'" : `'${c}'`}`);
  }

  /** Scans the next pair; false when it is malformed (or the line ended). */
  scan(): boolean {
    this.key = undefined;
    this.value = undefined;
    const s = this.line;
    while (this.pos < s.length && s.charCodeAt(this.pos) <= 0x20) this.pos++;
    if (this.pos >= s.length) return false;
    const start = this.pos;
    for (; this.pos < s.length; this.pos++) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x3d /* = */) {
        if (this.pos > start) this.key = s.slice(start, this.pos);
        if (this.key !== undefined && this.key.includes('\ufffd')) {
          this.fail('invalid key');
          return this.skipValue();
        }
        if (this.key === undefined) {
          this.unexpected('=');
          return this.skipValue();
        }
        return this.scanValue();
      }
      if (c === 0x22) {
        this.unexpected('"');
        return this.skipValue();
      }
      if (c <= 0x20) {
        this.key = s.slice(start, this.pos);
        if (this.key.includes('\ufffd')) {
          this.fail('invalid key');
          return false;
        }
        return true;
      }
    }
    this.key = s.slice(start, this.pos);
    if (this.key.includes('\ufffd')) {
      this.fail('invalid key');
      return false;
    }
    return true;
  }

  private skipValue(): false {
    const s = this.line;
    while (this.pos < s.length && s.charCodeAt(this.pos) > 0x20) this.pos++;
    return false;
  }

  private scanValue(): boolean {
    const s = this.line;
    this.pos++;
    if (this.pos >= s.length) return true;
    const c0 = s.charCodeAt(this.pos);
    if (c0 <= 0x20) return true;
    if (c0 === 0x22) return this.scanQuoted();
    const start = this.pos;
    for (; this.pos < s.length; this.pos++) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x3d || c === 0x22) {
        this.unexpected(s[this.pos]!);
        return this.skipValue();
      }
      if (c <= 0x20) {
        if (this.pos > start) this.value = s.slice(start, this.pos);
        return true;
      }
    }
    if (this.pos > start) this.value = s.slice(start, this.pos);
    return true;
  }

  private scanQuoted(): boolean {
    const s = this.line;
    const start = this.pos;
    let hasEsc = false;
    let esc = false;
    for (let j = this.pos + 1; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (esc) esc = false;
      else if (c === 0x5c) hasEsc = esc = true;
      else if (c === 0x22) {
        this.pos = j + 1;
        if (hasEsc) {
          const v = unquoteLogfmt(s.slice(start + 1, j));
          if (v === undefined) {
            this.fail('invalid quoted value');
            return false;
          }
          this.value = v;
        } else if (j > start + 1) this.value = s.slice(start + 1, j);
        return true;
      }
    }
    this.pos = s.length;
    this.fail('unterminated quoted value');
    return false;
  }
}

/** logfmt/jsonstring.go unquoteBytes: JSON escapes; undefined when invalid. Control characters are rejected. */
function unquoteLogfmt(body: string): string | undefined {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      const n = body[++i];
      switch (n) {
        case '"': case '\\': case '/': case "'":
          out += n;
          break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const h = body.slice(i + 1, i + 5);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) return undefined;
          let cp = parseInt(h, 16);
          i += 4;
          if (cp >= 0xd800 && cp < 0xe000) {
            const lo = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})/.exec(body.slice(i + 1, i + 7));
            if (cp < 0xdc00 && lo !== null) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (parseInt(lo[1]!, 16) - 0xdc00);
              i += 6;
            } else cp = 0xfffd;
          }
          out += String.fromCodePoint(cp);
          break;
        }
        default:
          return undefined;
      }
      continue;
    }
    if (c < ' ') return undefined;
    out += c;
  }
  return out;
}

function cleanValue(v: string): string {
  return v.includes('\ufffd') ? v.replace(/\ufffd/g, ' ') : v;
}

export class LogfmtParser implements Stage {
  private readonly dec = new LogfmtDecoder();
  constructor(
    private readonly strict: boolean,
    private readonly keepEmpty: boolean,
  ) {}

  process(line: string, lb: LabelsBuilder): string {
    if (lb.hints.noLabels(lb)) return line;
    const dec = this.dec;
    dec.reset(line);
    while (!dec.eol) {
      if (!dec.scan()) {
        if (this.strict) break;
        continue;
      }
      const raw = dec.key;
      if (raw === undefined) continue;
      let key = sanitizeLabelKey(raw);
      if (key === '') continue;
      key = lb.parsedName(key);
      if (!lb.hints.shouldExtract(key) || lb.extracted(key)) continue;
      const val = dec.value ?? '';
      if (!this.keepEmpty && val === '') continue;
      lb.set(Category.Parsed, key, cleanValue(val));
      if (lb.hints.allRequiredExtracted(lb)) break;
    }
    if (this.strict && dec.err !== undefined) lb.setParserError(LOGFMT_ERROR, dec.errorText());
    return line;
  }
}

/** `| logfmt a="key"`: only the listed keys, renamed; missing keys become "". */
export class LogfmtExpressionParser implements Stage {
  private readonly dec = new LogfmtDecoder();
  /** logfmt key → label name. */
  private readonly byKey = new Map<string, string>();
  private readonly ids: string[] = [];

  constructor(
    exprs: readonly ExtractionExpr[],
    private readonly strict: boolean,
  ) {
    if (exprs.length === 0) throw new Error('no logfmt expression provided');
    for (const e of exprs) {
      if (!isValidLabelName(e.identifier)) throw new Error(`invalid extracted label name '${e.identifier}'`);
      const key = e.expression.trim();
      if (key === '') throw new Error(`cannot parse expression [${e.expression}]: empty key`);
      this.byKey.set(key, e.identifier);
      this.ids.push(e.identifier);
    }
  }

  process(line: string, lb: LabelsBuilder): string {
    if (lb.hints.noLabels(lb)) return line;
    for (const id of this.ids) if (!lb.baseHas(id) && !lb.hasMetadata(id)) lb.set(Category.Parsed, id, '');
    const dec = this.dec;
    dec.reset(line);
    while (!dec.eol) {
      if (!dec.scan()) {
        if (this.strict) break;
        continue;
      }
      if (dec.key === undefined) continue;
      const key = sanitizeLabelKey(dec.key);
      const id = this.byKey.get(key) ?? this.byKey.get(dec.key);
      if (id === undefined) continue;
      let val = dec.value ?? '';
      if (val.includes('\ufffd')) val = '';
      lb.set(Category.Parsed, lb.parsedName(id), val);
    }
    if (this.strict && dec.err !== undefined) lb.setParserError(LOGFMT_ERROR, dec.errorText());
    return line;
  }
}
