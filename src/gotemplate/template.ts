/**
 * Alert label and annotation templates: the part of Go's text/template that
 * Prometheus (and so the Loki ruler) alert templates use, parsed once and
 * rendered per alert.
 *
 * Same as Prometheus: the variables `$labels`, `$value`, `$externalLabels`,
 * `$externalURL` and the data `.Labels`, `.Value`, `.ExternalLabels`,
 * `.ExternalURL`; option missingkey=zero (a missing label is ""); actions
 * `if`/`else if`/`else`/`with`/`range`/`break`/`continue`, variables, pipelines,
 * parentheses, trim markers `{{-`/`-}}`, comments; Go's builtins and
 * Prometheus's functions (template-funcs.ts); values print as Go's fmt does
 * (template-gofmt.ts). A render never throws: an execution error becomes
 * Prometheus's `<error expanding template: …>` text, with the same position
 * (Prometheus prepends 112 characters of variable definitions to line 1).
 * Not here: `define`/`template`/`block`, methods, and functions needing a
 * query engine; those fail to compile, flagged `unsupported`.
 */
import { FUNCS, isTrue, type CallContext, type FuncDef, type ParamType } from './funcs.js';
import { ALERT_DATA_TYPE, AlertData, GoMap, sprint, type GoValue } from './fmt.js';

export interface TemplateData {
  labels: Readonly<Record<string, string>>;
  value: number;
  externalLabels: Readonly<Record<string, string>>;
  externalURL: string;
  /** `$lines` (sidecar extension, issue #18): the alert's evidence lines; the Loki ruler has no such variable. */
  lines?: string;
}

export interface Template {
  readonly text: string;
  /** True when the text has no actions (render returns it as is). */
  readonly isStatic: boolean;
  render(data: TemplateData): string;
  /**
   * Execute with `dot` as the data (and `$`), for templates compiled with
   * other functions and variables (LogQL's line_format/label_format). Throws
   * TemplateExecError with Go's "template: name:line:col: …" message.
   */
  execute(dot: GoValue, ctx: CallContext): string;
}

/** An execution error of `execute` (Go's template.ExecError text). */
export class TemplateExecError extends Error {}

/** A template that does not parse (or uses something this engine does not run). */
export class TemplateError extends Error {
  constructor(
    readonly reason: string,
    /** 1-based, in the template text. */
    readonly line: number,
    readonly column: number,
    readonly unsupported: boolean,
  ) {
    super(`template: ${line}:${column}: ${reason}`);
    this.name = 'TemplateError';
  }
}

export interface CompileOptions {
  /** Template name used in execution errors; Prometheus uses `__alert_<alertname>`. */
  name?: string;
  /** The function map (default: Go builtins + Prometheus's). */
  funcs?: ReadonlyMap<string, FuncDef>;
  /** Predefined variables (default: Prometheus's `$labels`, `$value`, …); `$` is always defined. */
  vars?: readonly string[];
  /** Characters Go sees before the text on line 1 (Prometheus prepends variable definitions); default Prometheus's. */
  prefixLength?: number;
}

/** Execution budget: every template here terminates, but nested ranges could take long. */
const MAX_STEPS = 100_000;
/** Longest rendered text; a label or annotation beyond this is an error, not a memory hazard. */
export const MAX_OUTPUT = 64 * 1024;
/** Length of Prometheus's `{{$labels := .Labels}}{{$externalLabels := …}}…` prefix, for error columns. */
const PROMETHEUS_PREFIX_LEN = 112;

// ======================================================================= lexer

type Tok =
  | 'text'
  | 'left'
  | 'right'
  | 'space'
  | 'ident'
  | 'keyword'
  | 'field'
  | 'dot'
  | 'var'
  | 'string'
  | 'raw'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'eof';

interface Item {
  t: Tok;
  val: string;
  pos: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const SPACE_CHARS = ' \t\r\n';

class LexError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

function isSpace(c: string | undefined): boolean {
  return c !== undefined && SPACE_CHARS.includes(c);
}

function isAlnum(c: string | undefined): boolean {
  return c !== undefined && (c === '_' || /^[\p{L}\p{Nd}]$/u.test(c));
}

function describeRune(c: string): string {
  const cp = c.codePointAt(0)!;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

function lex(src: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  const n = src.length;
  while (pos < n) {
    // Text up to the next action.
    let l = src.indexOf('{{', pos);
    if (l < 0) l = n;
    const trimLeft = l < n && src[l + 2] === '-' && isSpace(src[l + 3]);
    let textEnd = l;
    if (trimLeft) while (textEnd > pos && isSpace(src[textEnd - 1])) textEnd--;
    if (textEnd > pos) items.push({ t: 'text', val: src.slice(pos, textEnd), pos });
    if (l >= n) break;
    pos = lexAction(src, l, items);
  }
  items.push({ t: 'eof', val: '', pos: n });
  return items;
}

/** Lex one `{{ … }}` starting at `start`; returns the position after it (and after trimmed space). */
function lexAction(src: string, start: number, items: Item[]): number {
  const n = src.length;
  let pos = start + 2;
  if (src[pos] === '-' && isSpace(src[pos + 1])) pos += 2;
  const afterRight = (p: number): number | undefined => {
    // returns the end of `}}` / ` -}}` at p, with trailing-space trimming applied
    if (src.startsWith('}}', p)) return p + 2;
    if (isSpace(src[p]) && src[p + 1] === '-' && src.startsWith('}}', p + 2)) {
      let q = p + 4;
      while (q < n && isSpace(src[q])) q++;
      return q;
    }
    return undefined;
  };
  // Comment: `{{/* … */}}`, only right after the delimiter (and trim marker).
  if (src.startsWith('/*', pos)) {
    const close = src.indexOf('*/', pos + 2);
    if (close < 0) throw new LexError('unclosed comment', start);
    const end = afterRight(close + 2);
    if (end === undefined) throw new LexError('comment ends before closing delimiter', start);
    return end;
  }
  items.push({ t: 'left', val: '{{', pos: start });
  let parenDepth = 0;
  for (;;) {
    const end = afterRight(pos);
    if (end !== undefined && parenDepth === 0) {
      items.push({ t: 'right', val: '}}', pos });
      return end;
    }
    if (end !== undefined) throw new LexError('unclosed left paren', pos);
    if (pos >= n) throw new LexError('unclosed action', start);
    const c = src[pos]!;
    const p0 = pos;
    if (isSpace(c)) {
      while (pos < n && isSpace(src[pos]) && afterRight(pos) === undefined) pos++;
      items.push({ t: 'space', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === '=') {
      items.push({ t: 'assign', val: '=', pos: p0 });
      pos++;
      continue;
    }
    if (c === ':') {
      if (src[pos + 1] !== '=') throw new LexError('expected :=', pos);
      items.push({ t: 'declare', val: ':=', pos: p0 });
      pos += 2;
      continue;
    }
    if (c === '|') {
      items.push({ t: 'pipe', val: '|', pos: p0 });
      pos++;
      continue;
    }
    if (c === ',') {
      items.push({ t: 'comma', val: ',', pos: p0 });
      pos++;
      continue;
    }
    if (c === '(') {
      parenDepth++;
      items.push({ t: 'lparen', val: '(', pos: p0 });
      pos++;
      continue;
    }
    if (c === ')') {
      if (--parenDepth < 0) throw new LexError('unexpected right paren', pos);
      items.push({ t: 'rparen', val: ')', pos: p0 });
      pos++;
      continue;
    }
    if (c === '"') {
      pos++;
      for (;;) {
        const d = src[pos];
        if (d === undefined || d === '\n') throw new LexError('unterminated quoted string', p0);
        if (d === '\\') pos += 2;
        else if (d === '"') break;
        else pos++;
      }
      pos++;
      items.push({ t: 'string', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === '`') {
      const close = src.indexOf('`', pos + 1);
      if (close < 0) throw new LexError('unterminated raw quoted string', p0);
      pos = close + 1;
      items.push({ t: 'raw', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === "'") {
      pos++;
      for (;;) {
        const d = src[pos];
        if (d === undefined || d === '\n') throw new LexError('unterminated character constant', p0);
        if (d === '\\') pos += 2;
        else if (d === "'") break;
        else pos++;
      }
      pos++;
      items.push({ t: 'char', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === '$') {
      pos++;
      while (isAlnum(src[pos])) pos++;
      items.push({ t: 'var', val: src.slice(p0, pos), pos: p0 });
      checkTerminator(src, pos, afterRight);
      continue;
    }
    if (c === '.') {
      if (src[pos + 1] !== undefined && /[0-9]/.test(src[pos + 1]!)) {
        pos = lexNumber(src, pos);
        items.push({ t: 'number', val: src.slice(p0, pos), pos: p0 });
        continue;
      }
      pos++;
      if (!isAlnum(src[pos])) {
        items.push({ t: 'dot', val: '.', pos: p0 });
        continue;
      }
      while (isAlnum(src[pos])) pos++;
      items.push({ t: 'field', val: src.slice(p0, pos), pos: p0 });
      checkTerminator(src, pos, afterRight);
      continue;
    }
    if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
      pos = lexNumber(src, pos);
      items.push({ t: 'number', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (isAlnum(c)) {
      while (isAlnum(src[pos])) pos++;
      const word = src.slice(p0, pos);
      const t: Tok = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'ident';
      items.push({ t, val: word, pos: p0 });
      checkTerminator(src, pos, afterRight);
      continue;
    }
    const ch = String.fromCodePoint(src.codePointAt(pos)!);
    throw new LexError(`unrecognized character in action: ${describeRune(ch)}`, pos);
  }
}

/** After a word: a space, `.`, `,`, `|`, `:`, `(`, `)` or the delimiter must follow. */
function checkTerminator(src: string, pos: number, afterRight: (p: number) => number | undefined): void {
  const c = src[pos];
  if (c === undefined || isSpace(c) || '.,|:()'.includes(c) || afterRight(pos) !== undefined) return;
  throw new LexError(`bad character ${describeRune(String.fromCodePoint(src.codePointAt(pos)!))}`, pos);
}

function lexNumber(src: string, pos: number): number {
  const start = pos;
  const accept = (set: string): boolean => {
    if (src[pos] !== undefined && set.includes(src[pos]!)) {
      pos++;
      return true;
    }
    return false;
  };
  const acceptRun = (set: string): void => {
    while (src[pos] !== undefined && set.includes(src[pos]!)) pos++;
  };
  accept('+-');
  let digits = '0123456789_';
  if (accept('0')) {
    if (accept('xX')) digits = '0123456789abcdefABCDEF_';
    else if (accept('oO')) digits = '01234567_';
    else if (accept('bB')) digits = '01_';
  }
  acceptRun(digits);
  if (accept('.')) acceptRun(digits);
  if (digits.length === 11 && accept('eE')) {
    accept('+-');
    acceptRun('0123456789_');
  }
  if (digits.length === 23 && accept('pP')) {
    accept('+-');
    acceptRun('0123456789_');
  }
  accept('i');
  if (isAlnum(src[pos])) throw new LexError(`bad number syntax: "${src.slice(start, pos + 1)}"`, start);
  return pos;
}

// ======================================================================= AST

type Operand =
  | { t: 'field'; idents: string[]; pos: number }
  | { t: 'var'; name: string; idents: string[]; pos: number }
  | { t: 'dot'; pos: number }
  | { t: 'nil'; pos: number }
  | { t: 'bool'; v: boolean; pos: number }
  | { t: 'number'; text: string; ideal: GoValue | Error; pos: number }
  | { t: 'string'; text: string; v: string; pos: number }
  | { t: 'ident'; name: string; fn: FuncDef; pos: number }
  | { t: 'pipe'; pipe: Pipe; pos: number }
  | { t: 'chain'; node: Operand; fields: string[]; pos: number };

interface Command {
  args: Operand[];
  pos: number;
}

interface Pipe {
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
  pos: number;
}

interface ControlNode {
  t: 'if' | 'with' | 'range';
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | undefined;
  pos: number;
}

type Node = { t: 'text'; text: string } | { t: 'action'; pipe: Pipe; pos: number } | ControlNode | { t: 'break' | 'continue'; pos: number };

// ======================================================================= literals

const utf8 = new TextEncoder();

/** strconv.Unquote for "…" and '…' (bytes, then UTF-8 decoded). */
function unquote(text: string, quote: '"' | "'"): string {
  const body = text.slice(1, -1);
  const bytes: number[] = [];
  const pushRune = (cp: number): void => {
    for (const b of utf8.encode(String.fromCodePoint(cp))) bytes.push(b);
  };
  for (let i = 0; i < body.length; ) {
    const cp = body.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (ch !== '\\') {
      if (ch === quote) throw new Error('invalid syntax');
      pushRune(cp);
      i += ch.length;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };
    if (e !== undefined && simple[e] !== undefined) {
      bytes.push(simple[e]!);
      continue;
    }
    if (e === quote) {
      bytes.push(quote.charCodeAt(0));
      continue;
    }
    if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i, i + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new Error('invalid syntax');
      i += len;
      const v = parseInt(hex, 16);
      if (e === 'x') bytes.push(v);
      else {
        if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new Error('invalid syntax');
        pushRune(v);
      }
      continue;
    }
    if (e !== undefined && e >= '0' && e <= '7') {
      const oct = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new Error('invalid syntax');
      bytes.push(parseInt(oct, 8));
      i += 2;
      continue;
    }
    throw new Error('invalid syntax');
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** strconv.ParseInt(text, 0, 64): prefixes 0x 0o 0b 0 (octal), underscores between digits. */
function parseGoInt(text: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(text);
  if (!m) return undefined;
  let digits = m[2]!;
  // Underscores must separate digits (or follow a base prefix).
  if (/__|_$/.test(digits)) return undefined;
  digits = digits.replace(/_/g, '');
  let v: bigint;
  if (/^0[0-7]+$/.test(digits)) v = BigInt('0o' + digits.slice(1));
  else v = BigInt(digits.replace(/^0[oO]/, '0o'));
  if (m[1] === '-') v = -v;
  return v >= INT64_MIN && v <= UINT64_MAX ? v : undefined;
}

function parseGoFloatLiteral(text: string): number | undefined {
  const t = text.replace(/_/g, '');
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  const h = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(t);
  if (h && (h[2] !== '' || (h[3] ?? '') !== '')) {
    const frac = h[3] ?? '';
    const mant = parseInt((h[2] || '0') + frac, 16);
    const v = mant * 2 ** (Number(h[4]) - 4 * frac.length);
    return h[1] === '-' ? -v : v;
  }
  return undefined;
}

/**
 * The value Go gives a number constant passed as interface{} (text/template
 * idealConstant): int, or float64 when written with . e E p P. A constant
 * that fits only uint64 parses but fails when used (an Error here).
 */
function numberConstant(text: string, isChar: boolean): GoValue | Error {
  if (isChar) {
    const v = unquote(text, "'");
    if ([...v].length !== 1) throw new Error(`malformed character constant: ${text}`);
    return BigInt(v.codePointAt(0)!);
  }
  const asInt = parseGoInt(text);
  if (asInt !== undefined) {
    if (asInt >= INT64_MIN && asInt <= INT64_MAX) return asInt;
    if (asInt >= 0n && asInt <= UINT64_MAX) return /[.eEpP]/.test(text) && !/^[+-]?0[xX]/.test(text) ? Number(asInt) : new Error(`${text} overflows int`);
  }
  const f = parseGoFloatLiteral(text);
  if (f === undefined) throw new Error(`illegal number syntax: "${text}"`);
  // Parsed as a float but written as an integer: too large for int.
  if (!/[.eEpP]/.test(text)) throw new Error(`integer overflow: "${text}"`);
  return f;
}

// ======================================================================= parser

const PREDEFINED_VARS = ['$', '$labels', '$externalLabels', '$externalURL', '$value', '$lines'];

/** Deepest nesting a template may have (real annotations use a few levels). */
const MAX_NESTING = 200;

class Parser {
  private i = 0;
  private vars: string[];
  private rangeDepth = 0;

  constructor(
    private readonly items: Item[],
    private readonly src: string,
    private readonly funcs: ReadonlyMap<string, FuncDef> = FUNCS,
    vars: readonly string[] = PREDEFINED_VARS,
  ) {
    this.vars = ['$', ...vars.filter((v) => v !== '$')];
  }

  private fail(message: string, pos: number, unsupported = false): never {
    throw new TemplateCompileFailure(message, pos, unsupported);
  }

  private peek(): Item {
    return this.items[this.i]!;
  }
  private next(): Item {
    return this.items[this.i++]!;
  }
  private backup(): void {
    this.i--;
  }
  private nextNonSpace(): Item {
    let it = this.next();
    while (it.t === 'space') it = this.next();
    return it;
  }
  private peekNonSpace(): Item {
    const save = this.i;
    const it = this.nextNonSpace();
    this.i = save;
    return it;
  }

  parse(): Node[] {
    const [list, end] = this.itemList();
    if (end !== undefined) this.fail(`unexpected {{${end.val}}}`, end.pos);
    return list;
  }

  /** Nesting of blocks and parenthesised pipelines: bounded so hostile input fails cleanly, not with a stack overflow. */
  private depth = 0;

  private nested<T>(pos: number, parse: () => T): T {
    if (++this.depth > MAX_NESTING) this.fail(`template nested more than ${MAX_NESTING} levels deep`, pos);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  /** Nodes up to `{{end}}` / `{{else}}` (returned) or EOF (undefined). */
  private itemList(): [Node[], Item | undefined] {
    return this.nested(this.peek().pos, () => this.itemListAt());
  }

  private itemListAt(): [Node[], Item | undefined] {
    const list: Node[] = [];
    for (;;) {
      const it = this.next();
      if (it.t === 'eof') return [list, undefined];
      if (it.t === 'text') {
        list.push({ t: 'text', text: it.val });
        continue;
      }
      // it.t === 'left'
      const kw = this.peekNonSpace();
      if (kw.t === 'keyword') {
        this.nextNonSpace();
        switch (kw.val) {
          case 'end':
            this.expectRight('end');
            return [list, kw];
          case 'else':
            // `{{else}}` or `{{else if …}}` / `{{else with …}}`: the caller looks at what follows.
            return [list, kw];
          case 'if':
          case 'with':
          case 'range':
            list.push(this.control(kw.val, kw.pos));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0) this.fail(`{{${kw.val}}} outside {{range}}`, kw.pos);
            this.expectRight(kw.val);
            list.push({ t: kw.val, pos: kw.pos });
            continue;
          default:
            this.fail(`{{${kw.val}}} is not supported in alert templates`, kw.pos, true);
        }
      }
      const pipe = this.pipeline('command', 'right');
      list.push({ t: 'action', pipe, pos: it.pos });
    }
  }

  private expectRight(context: string): void {
    const it = this.nextNonSpace();
    if (it.t !== 'right') this.unexpected(it, `{{${context}}}`);
  }

  private unexpected(it: Item, context: string): never {
    if (it.t === 'eof') this.fail(`unexpected EOF in ${context}`, it.pos);
    const desc = it.t === 'keyword' ? `<${it.val}>` : it.val.length > 10 ? `${JSON.stringify(it.val.slice(0, 10))}...` : JSON.stringify(it.val);
    this.fail(`unexpected ${desc} in ${context}`, it.pos);
  }

  private control(kind: 'if' | 'with' | 'range', pos: number): Node {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'right');
    if (kind === 'range') this.rangeDepth++;
    const [list, end] = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    if (end === undefined) this.fail('unexpected EOF', this.src.length);
    let elseList: Node[] | undefined;
    if (end.val === 'else') {
      const nx = this.peekNonSpace();
      if (kind !== 'range' && nx.t === 'keyword' && (nx.val === 'if' || nx.val === 'with')) {
        // `{{else if x}}…{{end}}` is `{{else}}{{if x}}…{{end}}{{end}}` with one shared end.
        this.nextNonSpace();
        elseList = [this.control(nx.val, nx.pos)];
      } else {
        this.expectRight('else');
        const [l2, end2] = this.itemList();
        if (end2 === undefined) this.fail('unexpected EOF', this.src.length);
        if (end2.val !== 'end') this.fail(`expected end; found {{${end2.val}}}`, end2.pos);
        elseList = l2;
      }
    }
    this.vars.length = mark;
    return { t: kind, pipe, list, elseList, pos };
  }

  private pipeline(context: string, end: 'right' | 'rparen'): Pipe {
    const start = this.peekNonSpace();
    const pipe: Pipe = { decl: [], isAssign: false, cmds: [], pos: start.pos };
    // Declarations: `$x :=`, `$x =`, `$i, $e :=` (range).
    const v = this.peekNonSpace();
    if (v.t === 'var') {
      const save = this.i;
      this.nextNonSpace();
      const after = this.nextNonSpace();
      if (after.t === 'declare' || after.t === 'assign') {
        pipe.isAssign = after.t === 'assign';
        pipe.decl.push(v.val);
        this.vars.push(v.val);
      } else if (after.t === 'comma') {
        pipe.decl.push(v.val);
        this.vars.push(v.val);
        if (context !== 'range') this.fail(`too many declarations in ${context}`, after.pos);
        const v2 = this.nextNonSpace();
        if (v2.t !== 'var') this.fail('range can only initialize variables', v2.pos);
        const op = this.nextNonSpace();
        if (op.t === 'comma') this.fail(`too many declarations in ${context}`, op.pos);
        if (op.t !== 'declare' && op.t !== 'assign') this.unexpected(op, context);
        pipe.isAssign = op.t === 'assign';
        pipe.decl.push(v2.val);
        this.vars.push(v2.val);
      } else {
        this.i = save;
      }
    }
    for (;;) {
      const it = this.nextNonSpace();
      if (it.t === end) {
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, it.pos);
        for (let k = 1; k < pipe.cmds.length; k++) {
          const first = pipe.cmds[k]!.args[0]!;
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(first.t)) this.fail(`non executable command in pipeline stage ${k + 1}`, first.pos);
        }
        return pipe;
      }
      switch (it.t) {
        case 'bool':
        case 'char':
        case 'dot':
        case 'field':
        case 'ident':
        case 'number':
        case 'nil':
        case 'raw':
        case 'string':
        case 'var':
        case 'lparen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(it, context);
      }
    }
  }

  private command(): Command {
    const cmd: Command = { args: [], pos: this.peekNonSpace().pos };
    for (;;) {
      this.peekNonSpace();
      const op = this.operand();
      if (op !== undefined) cmd.args.push(op);
      const it = this.next();
      if (it.t === 'space') continue;
      if (it.t === 'right' || it.t === 'rparen') this.backup();
      else if (it.t !== 'pipe') this.unexpected(it, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command', cmd.pos);
    return cmd;
  }

  private operand(): Operand | undefined {
    const node = this.term();
    if (node === undefined) return undefined;
    if (this.peek().t !== 'field') return node;
    const chainPos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().t === 'field') fields.push(this.next().val.slice(1));
    switch (node.t) {
      // Go reports a chained field/variable at the first chained field's position.
      case 'field':
        return { t: 'field', idents: [...node.idents, ...fields], pos: chainPos };
      case 'var':
        return { t: 'var', name: node.name, idents: [...node.idents, ...fields], pos: chainPos };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return this.fail(`unexpected . after term "${operandString(node)}"`, chainPos);
      default:
        return { t: 'chain', node, fields, pos: chainPos };
    }
  }

  private term(): Operand | undefined {
    return this.nested(this.peek().pos, () => this.termAt());
  }

  private termAt(): Operand | undefined {
    const it = this.nextNonSpace();
    switch (it.t) {
      case 'ident': {
        const fn = this.funcs.get(it.val);
        if (fn === undefined) this.fail(`function "${it.val}" not defined`, it.pos);
        if (fn.unsupported !== undefined) this.fail(`function "${it.val}" is not supported: ${fn.unsupported}`, it.pos, true);
        return { t: 'ident', name: it.val, fn, pos: it.pos };
      }
      case 'dot':
        return { t: 'dot', pos: it.pos };
      case 'nil':
        return { t: 'nil', pos: it.pos };
      case 'var': {
        if (!this.vars.includes(it.val)) this.fail(`undefined variable "${it.val}"`, it.pos);
        return { t: 'var', name: it.val, idents: [], pos: it.pos };
      }
      case 'field':
        return { t: 'field', idents: [it.val.slice(1)], pos: it.pos };
      case 'bool':
        return { t: 'bool', v: it.val === 'true', pos: it.pos };
      case 'char':
      case 'number': {
        if (it.t === 'number' && it.val.endsWith('i')) this.fail(`complex number ${it.val} is not supported`, it.pos, true);
        let ideal: GoValue | Error;
        try {
          ideal = numberConstant(it.val, it.t === 'char');
        } catch (e) {
          return this.fail(it.t === 'char' && !(e as Error).message.startsWith('malformed') ? `malformed character constant: ${it.val}` : (e as Error).message, it.pos);
        }
        return { t: 'number', text: it.val, ideal, pos: it.pos };
      }
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rparen');
        return { t: 'pipe', pipe, pos: it.pos };
      }
      case 'string':
      case 'raw': {
        let v: string;
        try {
          v = it.t === 'raw' ? it.val.slice(1, -1).replace(/\r/g, '') : unquote(it.val, '"');
        } catch {
          return this.fail(`invalid syntax in string ${it.val}`, it.pos);
        }
        return { t: 'string', text: it.val, v, pos: it.pos };
      }
    }
    this.backup();
    return undefined;
  }
}

class TemplateCompileFailure extends Error {
  constructor(
    message: string,
    readonly pos: number,
    readonly unsupported: boolean,
  ) {
    super(message);
  }
}

// Go's node String() forms, for "at <…>" in execution errors.
function operandString(o: Operand): string {
  switch (o.t) {
    case 'field':
      return '.' + o.idents.join('.');
    case 'var':
      return [o.name, ...o.idents].join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(o.v);
    case 'number':
    case 'string':
      return o.text;
    case 'ident':
      return o.name;
    case 'pipe':
      return `(${pipeString(o.pipe)})`;
    case 'chain':
      return operandString(o.node) + '.' + o.fields.join('.');
  }
}

function commandString(c: Command): string {
  return c.args.map(operandString).join(' ');
}

function pipeString(p: Pipe): string {
  const decl = p.decl.length > 0 ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return decl + p.cmds.map(commandString).join(' | ');
}

// ======================================================================= exec

class ExecError extends Error {}
const BREAK = { signal: 'break' } as const;
const CONTINUE = { signal: 'continue' } as const;
/** "no value passed": the final-argument slot of a command outside a pipeline. */
const MISSING = Symbol('missing');
type Final = GoValue | typeof MISSING;

type AtNode = Operand | Command;

class Exec {
  out = '';
  private steps = 0;
  private vars: Array<[string, GoValue]>;
  private at: AtNode | undefined;

  constructor(
    private readonly tmpl: CompiledTemplate,
    root: GoValue,
    private readonly ctx: CallContext,
  ) {
    this.vars =
      root instanceof AlertData
        ? [
            ['$', root],
            ['$labels', root.Labels],
            ['$externalLabels', root.ExternalLabels],
            ['$externalURL', root.ExternalURL],
            ['$value', root.Value],
            ['$lines', root.Lines],
          ]
        : [['$', root]];
  }

  private error(message: string): never {
    const node = this.at;
    const name = this.tmpl.name;
    let where = '';
    if (node !== undefined) {
      const { line, col } = this.tmpl.goPosition(node.pos);
      const str = 'args' in node ? commandString(node) : operandString(node);
      where = `${name}:${line}:${col}: executing "${name}" at <${str}>: `;
    }
    throw new ExecError(`template: ${where}${message}`);
  }

  private step(): void {
    if (++this.steps > MAX_STEPS) this.error(`execution exceeded ${MAX_STEPS} steps`);
  }

  private write(s: string): void {
    this.out += s;
    if (this.out.length > MAX_OUTPUT) this.error(`output exceeds ${MAX_OUTPUT} characters`);
  }

  walk(dot: GoValue, list: readonly Node[]): void {
    for (const node of list) {
      this.step();
      switch (node.t) {
        case 'text':
          this.write(node.text);
          break;
        case 'action': {
          const v = this.evalPipeline(dot, node.pipe);
          if (node.pipe.decl.length === 0) this.write(printValue(v));
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.evalPipeline(dot, node.pipe);
          if (isTrue(v)) this.walk(node.t === 'with' ? v : dot, node.list);
          else if (node.elseList !== undefined) this.walk(dot, node.elseList);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.walkRange(dot, node);
          break;
        case 'break':
          throw BREAK;
        case 'continue':
          throw CONTINUE;
      }
    }
  }

  private walkRange(dot: GoValue, node: ControlNode): void {
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, node.pipe);
    const decl = node.pipe.decl;
    const iterate = (key: GoValue, elem: GoValue): boolean => {
      // One variable: the element; two: index/key then element.
      if (decl.length > 0) this.setVar(decl[decl.length - 1]!, elem, node.pipe.isAssign, true);
      if (decl.length > 1) this.setVar(decl[0]!, key, node.pipe.isAssign, true);
      const inner = this.vars.length;
      try {
        this.walk(elem, node.list);
      } catch (e) {
        if (e === BREAK) return false;
        if (e !== CONTINUE) throw e;
      } finally {
        this.vars.length = inner;
      }
      return true;
    };
    let ran = false;
    if (val instanceof GoMap) {
      for (const k of val.sortedKeys()) {
        ran = true;
        if (!iterate(k, val.entries[k]!)) break;
      }
    } else if (val !== null) {
      this.error(`range can't iterate over ${sprint([val])}`);
    }
    if (!ran && node.elseList !== undefined) this.walk(dot, node.elseList);
    this.vars.length = mark;
  }

  private setVar(name: string, v: GoValue, isAssign: boolean, top: boolean): void {
    if (isAssign) {
      for (let k = this.vars.length - 1; k >= 0; k--) {
        if (this.vars[k]![0] === name) {
          this.vars[k]![1] = v;
          return;
        }
      }
      this.error(`undefined variable: ${name}`);
    }
    if (top) {
      // range variables were declared by evalPipeline; overwrite the newest binding.
      for (let k = this.vars.length - 1; k >= 0; k--) {
        if (this.vars[k]![0] === name) {
          this.vars[k]![1] = v;
          return;
        }
      }
    }
    this.vars.push([name, v]);
  }

  private varValue(name: string): GoValue {
    for (let k = this.vars.length - 1; k >= 0; k--) if (this.vars[k]![0] === name) return this.vars[k]![1];
    return this.error(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: GoValue, pipe: Pipe): GoValue {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const v = value === MISSING ? null : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, v, true, false);
      else this.vars.push([name, v]);
    }
    return v;
  }

  private notAFunction(args: readonly Operand[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.error(`can't give argument to non-function ${operandString(args[0]!)}`);
  }

  private evalCommand(dot: GoValue, cmd: Command, final: Final): GoValue {
    this.step();
    const first = cmd.args[0]!;
    switch (first.t) {
      case 'field':
        this.at = first;
        return this.evalFieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain': {
        this.at = first;
        const recv = this.evalArg(dot, 'any', first.node);
        return this.evalFieldChain(dot, recv, first, first.fields, cmd.args, final);
      }
      case 'ident':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case 'var':
        return this.evalVariable(dot, first, cmd.args, final);
    }
    this.at = first;
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case 'bool':
        return first.v;
      case 'dot':
        return dot;
      case 'nil':
        return this.error('nil is not a command');
      case 'number':
        return this.ideal(first);
      case 'string':
        return first.v;
    }
  }

  private ideal(n: Extract<Operand, { t: 'number' }>): GoValue {
    if (n.ideal instanceof Error) this.error(n.ideal.message);
    return n.ideal;
  }

  private evalVariable(dot: GoValue, v: Extract<Operand, { t: 'var' }>, args: readonly Operand[] | undefined, final: Final): GoValue {
    this.at = v;
    const value = this.varValue(v.name);
    if (v.idents.length === 0) {
      if (args !== undefined) this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.idents, args, final);
  }

  private evalFieldChain(
    dot: GoValue,
    receiver: GoValue,
    node: Operand,
    idents: readonly string[],
    args: readonly Operand[] | undefined,
    final: Final,
  ): GoValue {
    // Like Go, no s.at here: an error names the node evaluated last.
    let r = receiver;
    for (let k = 0; k < idents.length - 1; k++) r = this.evalField(idents[k]!, false, r);
    const hasArgs = (args !== undefined && args.length > 1) || final !== MISSING;
    return this.evalField(idents[idents.length - 1]!, hasArgs, r);
  }

  private evalField(name: string, hasArgs: boolean, receiver: GoValue): GoValue {
    if (receiver === null) return null;
    if (receiver instanceof AlertData && (name === 'Labels' || name === 'ExternalLabels' || name === 'ExternalURL' || name === 'Value')) {
      if (hasArgs) this.error(`${name} has arguments but cannot be invoked as function`);
      return receiver[name];
    }
    if (receiver instanceof GoMap) {
      if (hasArgs) this.error(`${name} is not a method but has arguments`);
      return receiver.get(name);
    }
    const type = receiver instanceof AlertData ? ALERT_DATA_TYPE : goTypeOf(receiver);
    return this.error(`can't evaluate field ${name} in type ${type}`);
  }

  private evalFunction(dot: GoValue, node: Extract<Operand, { t: 'ident' }>, cmd: Command | Operand, args: readonly Operand[] | undefined, final: Final): GoValue {
    this.at = node;
    const fn = node.fn;
    const name = node.name;
    const given = args === undefined ? [] : args.slice(1);
    const numIn = given.length + (final === MISSING ? 0 : 1);
    let numFixed = given.length;
    if (fn.variadic !== undefined) {
      numFixed = fn.params.length;
      if (numIn < numFixed) this.error(`wrong number of args for ${name}: want at least ${numFixed} got ${given.length}`);
    } else if (numIn !== fn.params.length) {
      this.error(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    if (fn.shortCircuit !== undefined) {
      let v: GoValue = null;
      for (const a of given) {
        v = this.evalArg(dot, 'any', a);
        if (isTrue(v) === (fn.shortCircuit === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: GoValue[] = [];
    let k = 0;
    for (; k < numFixed && k < given.length; k++) argv.push(this.evalArg(dot, fn.params[k]!, given[k]!));
    for (; k < given.length; k++) argv.push(this.evalArg(dot, fn.variadic!, given[k]!));
    if (final !== MISSING) {
      const t = numIn - 1 < fn.params.length ? fn.params[numIn - 1]! : fn.variadic!;
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv, this.ctx);
    } catch (e) {
      if (e instanceof ExecError) throw e;
      this.at = cmd;
      return this.error(`error calling ${name}: ${(e as Error).message}`);
    }
  }

  private validateType(v: GoValue, t: ParamType): GoValue {
    if (t === 'any') return v;
    if (v === null) this.error('invalid value; expected string');
    if (typeof v !== 'string') this.error(`wrong type for value; expected string; got ${goTypeOf(v)}`);
    return v;
  }

  private evalArg(dot: GoValue, t: ParamType, n: Operand): GoValue {
    this.at = n;
    switch (n.t) {
      case 'dot':
        return this.validateType(dot, t);
      case 'nil':
        if (t === 'any') return null;
        return this.error('cannot assign nil to string');
      case 'field':
        return this.validateType(this.evalFieldChain(dot, dot, n, n.idents, [n], MISSING), t);
      case 'var':
        return this.validateType(this.evalVariable(dot, n, undefined, MISSING), t);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n.pipe), t);
      case 'ident':
        return this.validateType(this.evalFunction(dot, n, n, undefined, MISSING), t);
      case 'chain': {
        this.at = n;
        const recv = this.evalArg(dot, 'any', n.node);
        return this.validateType(this.evalFieldChain(dot, recv, n, n.fields, undefined, MISSING), t);
      }
    }
    if (t === 'string') {
      if (n.t === 'string') return n.v;
      return this.error(`expected string; found ${operandString(n)}`);
    }
    switch (n.t) {
      case 'bool':
        return n.v;
      case 'number':
        return this.ideal(n);
      case 'string':
        return n.v;
    }
  }
}

function goTypeOf(v: GoValue): string {
  if (v === null) return 'nil';
  if (v instanceof AlertData) return ALERT_DATA_TYPE;
  if (v instanceof GoMap) return 'map[string]string';
  return typeof v === 'string' ? 'string' : typeof v === 'number' ? 'float64' : typeof v === 'bigint' ? 'int' : 'bool';
}

/** How text/template prints an action's value: fmt.Print, `<no value>` for nothing. */
function printValue(v: GoValue): string {
  if (v === null) return '<no value>';
  if (typeof v === 'string') return v;
  return sprint([v]);
}

// ======================================================================= API

class CompiledTemplate implements Template {
  readonly isStatic: boolean;
  private readonly lineStarts: number[];

  constructor(
    readonly text: string,
    readonly name: string,
    private readonly root: Node[],
    private readonly prefixLength = PROMETHEUS_PREFIX_LEN,
  ) {
    this.isStatic = !text.includes('{{');
    this.lineStarts = [0];
    for (let k = 0; k < text.length; k++) if (text[k] === '\n') this.lineStarts.push(k + 1);
  }

  /** Position as Go's ErrorContext prints it for Prometheus's template (0-based byte column, prefix on line 1). */
  goPosition(pos: number): { line: number; col: number } {
    let line = 0;
    while (line + 1 < this.lineStarts.length && this.lineStarts[line + 1]! <= pos) line++;
    const start = this.lineStarts[line]!;
    const col = utf8.encode(this.text.slice(start, pos)).length;
    return { line: line + 1, col: line === 0 ? col + this.prefixLength : col };
  }

  render(data: TemplateData): string {
    if (this.isStatic) return this.text;
    const root = new AlertData(new GoMap(data.labels), new GoMap(data.externalLabels), data.externalURL, data.value, data.lines);
    const exec = new Exec(this, root, { externalURL: data.externalURL });
    try {
      exec.walk(root, this.root);
      return exec.out;
    } catch (e) {
      // Prometheus: it is better to have a broken annotation than no alert.
      const msg = e instanceof ExecError ? e.message : String((e as Error)?.message ?? e);
      return `<error expanding template: error executing template ${this.name}: ${msg}>`;
    }
  }

  execute(dot: GoValue, ctx: CallContext): string {
    if (this.isStatic) return this.text;
    const exec = new Exec(this, dot, ctx);
    try {
      exec.walk(dot, this.root);
      return exec.out;
    } catch (e) {
      if (e instanceof ExecError) throw new TemplateExecError(e.message);
      throw new TemplateExecError(String((e as Error)?.message ?? e));
    }
  }
}

function position(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < pos && k < text.length; k++) {
    if (text[k] === '\n') {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: pos - lineStart + 1 };
}

/**
 * Parse a template once. Throws TemplateError (with line/column in `text`)
 * when it does not parse, or uses a function or action this engine does not run
 * (`unsupported: true`).
 */
export function compileTemplate(text: string, opts: CompileOptions = {}): Template {
  const name = opts.name ?? '__alert_';
  const prefix = opts.prefixLength ?? PROMETHEUS_PREFIX_LEN;
  if (!text.includes('{{')) return new CompiledTemplate(text, name, text === '' ? [] : [{ t: 'text', text }], prefix);
  try {
    const root = new Parser(lex(text), text, opts.funcs ?? FUNCS, opts.vars ?? PREDEFINED_VARS).parse();
    return new CompiledTemplate(text, name, root, prefix);
  } catch (e) {
    if (e instanceof LexError || e instanceof TemplateCompileFailure) {
      const { line, column } = position(text, e.pos);
      throw new TemplateError(e.message, line, column, e instanceof TemplateCompileFailure && e.unsupported);
    }
    throw e;
  }
}
