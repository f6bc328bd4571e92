/**
 * Go text/template's builtin functions (funcs.go) with Go's argument rules,
 * and the function signature the executor calls. Prometheus's functions are
 * in prometheus-funcs.ts; func-map.ts is what templates can call.
 */
import { sprint, sprintf, sprintln } from './fmt.js';
import { GoMap, compareBytes, goTypeName, type GoValue } from './values.js';

/** How an argument is checked: `any` is Go's interface{} / reflect.Value; `string` is a string parameter. */
export type ParamType = 'any' | 'string';

export interface CallContext {
  readonly externalURL: string;
  /** LogQL line_format/label_format: the line (`__line__`) and its time. */
  readonly logLine?: string;
  readonly logTimeMs?: number;
  readonly logTimeNsRem?: number;
}

export interface FuncDef {
  readonly params: readonly ParamType[];
  /** Type of the `...` parameter, if variadic. */
  readonly variadic?: ParamType;
  /** `and`/`or` short-circuit and return an argument. */
  readonly shortCircuit?: 'and' | 'or';
  /** Set when the function exists in Prometheus but not here: the template does not compile. */
  readonly unsupported?: string;
  /** Throws Error for "error calling NAME: …". */
  call(args: GoValue[], ctx: CallContext): GoValue;
}

/** Go's `truth`: zero values are false. */
export function isTrue(v: GoValue): boolean {
  if (v === null) return false;
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'boolean':
      return v;
  }
  if (v instanceof GoMap) return Object.keys(v.entries).length > 0;
  return true;
}

// ---------------------------------------------------------------- comparisons

type Kind = 'bool' | 'float' | 'int' | 'string' | 'invalid' | 'other';

function kindOf(v: GoValue): Kind {
  if (v === null) return 'invalid';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return 'float';
    case 'bigint':
      return 'int';
    case 'string':
      return 'string';
  }
  return 'other';
}

const ERR_BAD_COMPARISON = 'incompatible types for comparison';
const ERR_BAD_COMPARISON_TYPE = 'invalid type for comparison';

function eq(args: GoValue[]): boolean {
  const a = args[0]!;
  if (args.length < 2) throw new Error('missing argument for comparison');
  const k1 = kindOf(a);
  for (const b of args.slice(1)) {
    const k2 = kindOf(b);
    if (k1 !== k2) {
      if (a !== null && b !== null) throw new Error(ERR_BAD_COMPARISON);
      continue;
    }
    if (k1 === 'other' || k1 === 'invalid') {
      if (a === null && b === null) return true;
      throw new Error(`non-comparable type ${sprint([b])}: ${goTypeName(b)}`);
    }
    if (a === b) return true;
  }
  return false;
}

function lt(a: GoValue, b: GoValue): boolean {
  const k1 = kindOf(a);
  const k2 = kindOf(b);
  if (k1 === 'invalid' || k1 === 'other' || k2 === 'invalid' || k2 === 'other') throw new Error(ERR_BAD_COMPARISON_TYPE);
  if (k1 !== k2) throw new Error(ERR_BAD_COMPARISON);
  if (k1 === 'bool') throw new Error(ERR_BAD_COMPARISON_TYPE);
  if (k1 === 'string') return compareBytes(a as string, b as string) < 0;
  return (a as number | bigint) < (b as number | bigint);
}

// ---------------------------------------------------------------- indexing

const utf8 = new TextEncoder();

function indexArg(v: GoValue, cap: number): number {
  if (v === null) throw new Error('cannot index slice/array with nil');
  if (typeof v !== 'bigint') throw new Error(`cannot index slice/array with type ${goTypeName(v)}`);
  const x = Number(v);
  if (x < 0 || x > cap) throw new Error(`index out of range: ${x}`);
  return x;
}

function index(args: GoValue[]): GoValue {
  let item = args[0]!;
  if (item === null) throw new Error('index of untyped nil');
  for (const ix of args.slice(1)) {
    if (typeof item === 'string') {
      const bytes = utf8.encode(item);
      const x = indexArg(ix, bytes.length - 1);
      item = BigInt(bytes[x]!);
    } else if (item instanceof GoMap) {
      if (typeof ix !== 'string') throw new Error(`value has type ${goTypeName(ix)}; should be string`);
      item = item.get(ix);
    } else {
      throw new Error(`can't index item of type ${goTypeName(item)}`);
    }
  }
  return item;
}

function slice(args: GoValue[]): GoValue {
  const item = args[0]!;
  if (item === null) throw new Error('slice of untyped nil');
  const ixs = args.slice(1);
  if (ixs.length > 3) throw new Error(`too many slice indexes: ${ixs.length}`);
  if (typeof item !== 'string') throw new Error(`can't slice item of type ${goTypeName(item)}`);
  if (ixs.length === 3) throw new Error('cannot 3-index slice a string');
  const bytes = utf8.encode(item);
  const idx = [0, bytes.length];
  ixs.forEach((v, i) => (idx[i] = indexArg(v, bytes.length)));
  if (idx[0]! > idx[1]!) throw new Error(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  return new TextDecoder().decode(bytes.slice(idx[0], idx[1]));
}

function len(v: GoValue): GoValue {
  if (v === null) throw new Error('len of untyped nil');
  if (typeof v === 'string') return BigInt(utf8.encode(v).length);
  if (v instanceof GoMap) return BigInt(Object.keys(v.entries).length);
  throw new Error(`len of type ${goTypeName(v)}`);
}

// ---------------------------------------------------------------- escapers

/** text/template's evalArgs: a lone string as is, else fmt.Sprint with <no value> for nil. */
function argsString(args: GoValue[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === null ? '<no value>' : a)));
}

function htmlEscape(s: string): string {
  return s.replace(/[&'<>"\0]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case "'":
        return '&#39;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&#34;';
      default:
        return '\uFFFD';
    }
  });
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += '\\u' + cp.toString(16).toUpperCase().padStart(4, '0');
    else out += ch;
  }
  return out;
}

/** url.QueryEscape */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of utf8.encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

// ---------------------------------------------------------------- table

export const str = (v: GoValue): string => v as string;

export const unsupported = (why: string): FuncDef => ({
  params: [],
  variadic: 'any',
  unsupported: why,
  call: () => {
    throw new Error(why);
  },
});

/** Go text/template's builtin functions. */
export const GO_BUILTINS: ReadonlyMap<string, FuncDef> = new Map<string, FuncDef>([
  ['and', { params: ['any'], variadic: 'any', shortCircuit: 'and', call: (a) => a[a.length - 1]! }],
  ['or', { params: ['any'], variadic: 'any', shortCircuit: 'or', call: (a) => a[a.length - 1]! }],
  ['not', { params: ['any'], call: (a) => !isTrue(a[0]!) }],
  ['len', { params: ['any'], call: (a) => len(a[0]!) }],
  ['index', { params: ['any'], variadic: 'any', call: index }],
  ['slice', { params: ['any'], variadic: 'any', call: slice }],
  ['print', { params: [], variadic: 'any', call: (a) => sprint(a) }],
  ['printf', { params: ['string'], variadic: 'any', call: (a) => sprintf(str(a[0]!), a.slice(1)) }],
  ['println', { params: [], variadic: 'any', call: (a) => sprintln(a) }],
  ['html', { params: [], variadic: 'any', call: (a) => htmlEscape(argsString(a)) }],
  ['js', { params: [], variadic: 'any', call: (a) => jsEscape(argsString(a)) }],
  ['urlquery', { params: [], variadic: 'any', call: (a) => queryEscape(argsString(a)) }],
  ['eq', { params: ['any'], variadic: 'any', call: eq }],
  ['ne', { params: ['any', 'any'], call: (a) => !eq(a) }],
  ['lt', { params: ['any', 'any'], call: (a) => lt(a[0]!, a[1]!) }],
  ['le', { params: ['any', 'any'], call: (a) => lt(a[0]!, a[1]!) || eq(a) }],
  ['gt', { params: ['any', 'any'], call: (a) => !(lt(a[0]!, a[1]!) || eq(a)) }],
  ['ge', { params: ['any', 'any'], call: (a) => !lt(a[0]!, a[1]!) }],
  ['call', unsupported('call: templates here have no function values')],
]);
