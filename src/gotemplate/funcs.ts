/**
 * The functions an alert template can call: Go text/template's builtins and
 * Prometheus's template functions (template/template.go), with Go's argument
 * rules. Functions that need a PromQL/LogQL query engine or Go time values
 * (`query`, `toTime`, …) are declared so that a rule using them fails at load
 * time with a clear "not supported" error instead of rendering garbage.
 */
import { compileLineRegex } from '../re2/re2.js';
import { compileSubmatchRegex, type SubmatchRegex } from '../re2/captures.js';
import {
  AlertData,
  GoMap,
  compareBytes,
  formatFloatV,
  goTypeName,
  parseGoFloat,
  quoteGo,
  sprint,
  sprintf,
  sprintln,
  type GoValue,
} from './fmt.js';

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

// ---------------------------------------------------------------- strings

/** Go's simple (one rune to one rune) case mapping; JS's full mapping would turn ß into SS. */
function mapRunes(s: string, upper: boolean): string {
  let out = '';
  for (const ch of s) {
    if (!upper && ch === '\u0130') {
      out += 'i';
      continue;
    }
    const m = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += [...m].length === 1 ? m : ch;
  }
  return out;
}

const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}]$/u;
const SPACE = /^\s$/u;

/** strings.Title (what Prometheus 2.x's `title` is): upper-case the first letter of each word. */
function title(s: string): string {
  const isSeparator = (ch: string): boolean => {
    const cp = ch.codePointAt(0)!;
    if (cp <= 0x7f) return !/[A-Za-z0-9_]/.test(ch);
    if (LETTER_OR_DIGIT.test(ch)) return false;
    return SPACE.test(ch);
  };
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? mapRunes(ch, true) : ch;
    prev = ch;
  }
  return out;
}

// ---------------------------------------------------------------- regexps

/**
 * Regexps come from the product's RE2 engine (src/re2), which reports Go's
 * "error parsing regexp: …" texts itself: `match` tests with the line-filter
 * matcher (bounded for every pattern), `reReplaceAll` needs submatches.
 */
/** Go's Regexp.Expand for ReplaceAllString: `$1`, `${1}`, `$name`, `${name}`, `$$`. */
function expand(template: string, m: readonly (string | undefined)[], names: Readonly<Record<string, number>>): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, d);
    i = d + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string;
    const braced = template[i] === '{';
    const mm = braced ? /^\{([A-Za-z0-9_]+)\}/.exec(template.slice(i)) : /^[A-Za-z0-9_]+/.exec(template.slice(i));
    if (!mm) {
      out += '$'; // malformed: Go keeps the '$'
      continue;
    }
    name = braced ? mm[1]! : mm[0];
    i += mm[0].length;
    let idx: number | undefined;
    if (/^\d+$/.test(name)) idx = Number(name);
    else idx = names[name];
    if (idx !== undefined && idx < m.length) out += m[idx] ?? '';
  }
  return out;
}

/**
 * Characters searched for one reReplaceAll: each search runs from the last
 * match on, so many matches in a long label value cost quadratic time. Past
 * this bound the call fails (rendered as a template error) instead of
 * freezing the event loop.
 */
const REPLACE_SCAN_BUDGET = 1_000_000;

/** Regexp.ReplaceAllString, with Go's rule that an empty match right after a match is skipped. */
export function replaceAll(re: SubmatchRegex, repl: string, text: string): string {
  const names: Record<string, number> = {};
  re.groupNames.forEach((n, i) => {
    // Go's Expand takes the leftmost group of a name.
    if (n !== '' && names[n] === undefined) names[n] = i + 1;
  });
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  let scanned = 0;
  while (searchPos <= text.length) {
    scanned += text.length - searchPos + 1;
    if (scanned > REPLACE_SCAN_BUDGET) throw new Error(`reReplaceAll: input too large for ${text.length} characters with this many matches`);
    const m = re.exec(text, searchPos);
    if (m === null) break;
    const start = m.index;
    const end = start + m.groups[0]!.length;
    out += text.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += expand(repl, m.groups, names);
    lastMatchEnd = end;
    const cp = text.codePointAt(searchPos);
    const width = cp === undefined ? 1 : cp > 0xffff ? 2 : 1;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + text.slice(lastMatchEnd);
}

function goRegexpQuote(s: string): string {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x60 || cp === 0xfeff || (cp < 0x20 && cp !== 9) || cp === 0x7f) return quoteGo(s);
  }
  return '`' + s + '`';
}

// ---------------------------------------------------------------- humanize

/** Prometheus convertToFloat. */
function toFloat(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseGoFloat(v);
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`can't convert ${goTypeName(v)} to float`);
}

const g4 = (v: number, suffix = ''): string => sprintf('%.4g', [v]) + suffix;

function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  if (Math.abs(v) >= 1) {
    let prefix = '';
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return g4(v, prefix);
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return g4(v, prefix);
}

function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return g4(v);
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return g4(v, prefix);
}

const INT64_MIN = -(2n ** 63n);

/** Go's int64(float64) on amd64: out of range (and NaN) gives the minimum int64. */
function goInt64(v: number): bigint {
  if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 63) return INT64_MIN;
  return BigInt(Math.trunc(v));
}

function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  if (v === 0) return g4(v, 's');
  if (Math.abs(v) >= 1) {
    let sign = '';
    if (v < 0) {
      sign = '-';
      v = -v;
    }
    const n = goInt64(v);
    const seconds = n % 60n;
    const minutes = (n / 60n) % 60n;
    const hours = (n / 3600n) % 24n;
    const days = n / 86400n;
    if (days !== 0n) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0n) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0n) return `${sign}${minutes}m ${seconds}s`;
    return sign + g4(v, 's');
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return g4(v, prefix + 's');
}

/** fmt.Sprint(time.Time) in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC". */
function humanizeTimestamp(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  const ns = v * 1e9;
  if (ns >= 2 ** 63 || ns < -(2 ** 63)) throw new Error(`${formatFloatV(v)} cannot be represented as a nanoseconds timestamp since it overflows int64`);
  // model.TimeFromUnixNano(int64(v*1e9)): millisecond precision, truncated toward zero.
  const ms = Number(goInt64(ns) / 1_000_000n);
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  let s = `${String(d.getUTCFullYear()).padStart(4, '0')}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const frac = d.getUTCMilliseconds();
  if (frac !== 0) s += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
  return s + ' +0000 UTC';
}

// ---------------------------------------------------------------- table

const str = (v: GoValue): string => v as string;

const unsupported = (why: string): FuncDef => ({
  params: [],
  variadic: 'any',
  unsupported: why,
  call: () => {
    throw new Error(why);
  },
});

const NO_QUERY = 'needs a query engine, which the sidecar does not have';

export const FUNCS: ReadonlyMap<string, FuncDef> = new Map<string, FuncDef>([
  // Go text/template builtins.
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
  // Prometheus template functions.
  ['humanize', { params: ['any'], call: (a) => humanize(toFloat(a[0]!)) }],
  ['humanize1024', { params: ['any'], call: (a) => humanize1024(toFloat(a[0]!)) }],
  ['humanizeDuration', { params: ['any'], call: (a) => humanizeDuration(toFloat(a[0]!)) }],
  ['humanizePercentage', { params: ['any'], call: (a) => g4(toFloat(a[0]!) * 100, '%') }],
  ['humanizeTimestamp', { params: ['any'], call: (a) => humanizeTimestamp(toFloat(a[0]!)) }],
  ['title', { params: ['string'], call: (a) => title(str(a[0]!)) }],
  ['toUpper', { params: ['string'], call: (a) => mapRunes(str(a[0]!), true) }],
  ['toLower', { params: ['string'], call: (a) => mapRunes(str(a[0]!), false) }],
  [
    'match',
    {
      params: ['string', 'string'],
      call: (a) => compileLineRegex(str(a[0]!)).test(str(a[1]!)),
    },
  ],
  [
    'reReplaceAll',
    {
      params: ['string', 'string', 'string'],
      call: (a) => {
        const pattern = str(a[0]!);
        let re: SubmatchRegex;
        try {
          re = compileSubmatchRegex(pattern);
        } catch (e) {
          // regexp.MustCompile panics; text/template reports the panic value.
          throw new Error(`regexp: Compile(${goRegexpQuote(pattern)}): ${(e as Error).message}`);
        }
        return replaceAll(re, str(a[1]!), str(a[2]!));
      },
    },
  ],
  ['safeHtml', { params: ['string'], call: (a) => str(a[0]!) }],
  ['stripPort', { params: ['string'], call: (a) => stripPort(str(a[0]!)) }],
  ['stripDomain', { params: ['string'], call: (a) => stripDomain(str(a[0]!)) }],
  ['graphLink', { params: ['string'], call: (a) => `/graph?g0.expr=${queryEscape(str(a[0]!))}&g0.tab=0` }],
  ['tableLink', { params: ['string'], call: (a) => `/graph?g0.expr=${queryEscape(str(a[0]!))}&g0.tab=1` }],
  ['externalURL', { params: [], call: (_a, ctx) => ctx.externalURL }],
  ['pathPrefix', { params: [], call: (_a, ctx) => urlPath(ctx.externalURL) }],
  ['query', unsupported(`query ${NO_QUERY}`)],
  ['first', unsupported(`first ${NO_QUERY}`)],
  ['label', unsupported(`label ${NO_QUERY}`)],
  ['value', unsupported(`value ${NO_QUERY}`)],
  ['strvalue', unsupported(`strvalue ${NO_QUERY}`)],
  ['sortByLabel', unsupported(`sortByLabel ${NO_QUERY}`)],
  ['args', unsupported('args is for console templates')],
  ['tmpl', unsupported('tmpl is for console templates')],
  ['toTime', unsupported('toTime (Go time values) is not supported')],
  ['toDuration', unsupported('toDuration (Go time values) is not supported')],
  ['parseDuration', unsupported('parseDuration is not supported')],
  ['now', unsupported('now is not supported')],
]);

function stripPort(hostPort: string): string {
  // net.SplitHostPort, falling back to the input as Prometheus does.
  const m = /^\[([^\]]*)\]:[^:]*$/.exec(hostPort) ?? /^([^:[\]]*):[^:]*$/.exec(hostPort);
  return m ? m[1]! : hostPort;
}

function stripDomain(hostPort: string): string {
  let host = hostPort;
  let port = '';
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(hostPort) ?? /^([^:[\]]*):([^:]*)$/.exec(hostPort);
  if (m) {
    host = m[1]!;
    port = m[2]!;
  }
  // IP addresses keep their dots.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':')) return hostPort;
  const dot = host.indexOf('.');
  if (dot >= 0) host = host.slice(0, dot);
  if (!m) return host;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function urlPath(u: string): string {
  try {
    return new URL(u).pathname.replace(/^\/$/, u.endsWith('/') ? '/' : '');
  } catch {
    return '';
  }
}

export { AlertData, GoMap };
