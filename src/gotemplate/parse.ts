/**
 * The template parser (Go's text/template/parse/parse.go): items into the
 * tree of node.ts, with constants evaluated as Go does (ideal numbers,
 * character constants, strconv.Unquote'd strings). Functions are resolved
 * here, so an unknown or unsupported one fails at compile time.
 */
import { unquoteGoString } from '../lib/go-string.js';
import { FUNCS } from './func-map.js';
import type { FuncDef } from './funcs.js';
import type { GoValue } from './values.js';
import type { Item } from './lex.js';
import { operandString, type Command, type Node, type Operand, type Pipe } from './node.js';

/** strconv.Unquote for "…" and '…'; byte escapes that are not UTF-8 become U+FFFD (Go keeps the raw bytes). */
function unquote(text: string): string {
  return unquoteGoString(text, { invalidUtf8: 'replace' });
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
    const v = unquote(text);
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


const PREDEFINED_VARS = ['$', '$labels', '$externalLabels', '$externalURL', '$value', '$lines'];

/** Deepest nesting a template may have (real annotations use a few levels). */
const MAX_NESTING = 200;

export class Parser {
  private i = 0;
  private vars: string[];
  private rangeDepth = 0;

  constructor(
    private readonly items: Item[],
    private readonly src: string,
    /** The function map (LogQL's line_format has its own). */
    private readonly funcs: ReadonlyMap<string, FuncDef> = FUNCS,
    /** Predefined variables; `$` is always defined. */
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
          v = it.t === 'raw' ? it.val.slice(1, -1).replace(/\r/g, '') : unquote(it.val);
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

export class TemplateCompileFailure extends Error {
  constructor(
    message: string,
    readonly pos: number,
    readonly unsupported: boolean,
  ) {
    super(message);
  }
}
