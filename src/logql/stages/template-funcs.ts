/**
 * The functions LogQL's `line_format` / `label_format` templates can call
 * (pkg/logql/log/fmt.go functionMap + the sprig subset in
 * templateFunctions), on top of Go's builtins. Sprig's numeric helpers
 * convert their arguments with spf13/cast (strings parse as integers with
 * strconv.ParseInt(s, 0, 0), ".0…" tails trimmed; failures read as 0), so
 * `{{ add .status 1 }}` works on a label.
 * Go time values (`__timestamp__`, `now`, `date`, `unixEpoch*`,
 * `unixToTime`) are UTC times (go-time.ts). `toDate`, `toDateInZone`
 * (parsing text) and `fromJson` are declared unsupported: a template using
 * them fails to compile with that reason (the rule is refused, not run wrong).
 */
import { GO_BUILTINS, type CallContext, type FuncDef } from '../../gotemplate/funcs.js';
import { replaceAll } from '../../gotemplate/prometheus-funcs.js';
import { compileSubmatchRegex } from '../../re2/captures.js';
import { GoMap, GoTime, type GoValue } from '../../gotemplate/values.js';
import { formatGoTime, unixNanos, unixToTime } from './go-time.js';
import { sprint } from '../../gotemplate/fmt.js';
import { formatFloatV } from '../../gotemplate/strconv.js';
import { parseGoDurationSeconds, parseHumanBytes } from './units.js';

function s(v: GoValue): string {
  if (typeof v === 'string') return v;
  return sprint([v]);
}

/** cast.ToInt64E on our values (0 on failure, as sprig ignores the error). */
function toInt64(v: GoValue): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v !== 'string') return 0n;
  let t = v;
  // cast trimZeroDecimal: "12.000" → "12".
  const z = /^(.*)\.0+$/.exec(t);
  if (z !== null && z[1] !== '') t = z[1]!;
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*)$/.exec(t);
  if (m === null) return 0n;
  let body = m[2]!.replace(/_/g, '');
  if (/^0[0-7]+$/.test(body)) body = `0o${body.slice(1)}`;
  try {
    const n = BigInt(body);
    const r = m[1] === '-' ? -n : n;
    if (r > 9223372036854775807n || r < -9223372036854775808n) return 0n;
    return r;
  } catch {
    return 0n;
  }
}

/** cast.ToFloat64E (0 on failure). */
function toFloat64(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'string') return 0;
  const t = v.trim() === v ? v : '';
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t) && !/^[+-]?(?:inf|infinity|nan)$/i.test(t)) return 0;
  return Number(t.replace(/^([+-]?)inf(inity)?$/i, '$1Infinity'));
}

/**
 * sprig's float helpers compute in shopspring/decimal from each float's
 * shortest decimal form (NewFromFloat) and convert back (InexactFloat64);
 * division rounds to 16 decimal places, half away from zero.
 */
interface Dec {
  m: bigint;
  e: number;
}

function dec(x: number): Dec | undefined {
  if (!Number.isFinite(x)) return undefined;
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x))!;
  const frac = m[3] ?? '';
  return { m: BigInt(`${m[1]}${m[2]}${frac}`), e: Number(m[4] ?? 0) - frac.length };
}

function decNum(d: Dec): number {
  return Number(`${d.m}e${d.e}`);
}

function decOp(op: '+' | '-' | '*' | '/', a: number, b: number): number {
  const x = dec(a);
  const y = dec(b);
  if (x === undefined || y === undefined) {
    return op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
  }
  if (op === '*') return decNum({ m: x.m * y.m, e: x.e + y.e });
  if (op === '/') {
    if (y.m === 0n) throw new Error('decimal division by 0');
    const k = x.e - y.e + 16;
    let num = x.m;
    let den = y.m;
    if (k >= 0) num *= 10n ** BigInt(k);
    else den *= 10n ** BigInt(-k);
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    const q = num / den;
    const r = num % den;
    const n = 2n * (r < 0n ? -r : r) >= den ? q + (num < 0n ? -1n : 1n) : q;
    return decNum({ m: n, e: -16 });
  }
  const e = Math.min(x.e, y.e);
  const xm = x.m * 10n ** BigInt(x.e - e);
  const ym = y.m * 10n ** BigInt(y.e - e);
  return decNum({ m: op === '+' ? xm + ym : xm - ym, e });
}

/** sprig formatDate's argument: a time, or unix seconds as an int; anything else is now. */
function asTime(v: GoValue): GoTime {
  if (v instanceof GoTime) return v;
  if (typeof v === 'bigint') return new GoTime(Number(v) * 1000, 0);
  return new GoTime(Date.now(), 0);
}

/** A time.Time parameter: Go rejects other types when the template calls the function. */
function needTime(v: GoValue, fn: string): GoTime {
  if (v instanceof GoTime) return v;
  throw new Error(`wrong type for value; expected time.Time; got ${v === null ? 'nil' : typeof v === 'string' ? 'string' : typeof v === 'bigint' ? 'int' : typeof v === 'number' ? 'float64' : 'map[string]string'} (in ${fn})`);
}

const str1Time = (fn: (x: string) => GoTime): FuncDef => ({ params: ['string'], call: (a) => fn(a[0] as string) });

const f1 = (call: (a: GoValue[], ctx: CallContext) => GoValue, params: FuncDef['params'] = ['any']): FuncDef => ({ params, call });
const str1 = (fn: (x: string) => string): FuncDef => ({ params: ['string'], call: (a) => fn(a[0] as string) });
const unsupported = (name: string, why: string): FuncDef => ({
  params: [],
  variadic: 'any',
  unsupported: why,
  call: () => {
    throw new Error(`${name}: ${why}`);
  },
});

function runes(x: string): string[] {
  return [...x];
}

function goTitle(x: string): string {
  // strings.Title: upper-case the first letter of each word (words split at non-letters/digits).
  let prevLetter = false;
  let out = '';
  for (const ch of x) {
    const isWordChar = /[\p{L}\p{N}_']/u.test(ch);
    out += !prevLetter && isWordChar ? ch.toUpperCase() : ch;
    prevLetter = isWordChar;
  }
  return out;
}

function trimSet(x: string, cutset: string, left: boolean, right: boolean): string {
  const set = new Set(runes(cutset));
  const r = runes(x);
  let i = 0;
  let j = r.length;
  if (left) while (i < j && set.has(r[i]!)) i++;
  if (right) while (j > i && set.has(r[j - 1]!)) j--;
  return r.slice(i, j).join('');
}

function goTrimSpace(x: string): string {
  return x.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

function empty(v: GoValue): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'string':
      return v === '';
    case 'number':
      return v === 0;
    case 'bigint':
      return v === 0n;
    case 'boolean':
      return !v;
    default:
      return v instanceof GoMap ? Object.keys(v.entries).length === 0 : false;
  }
}

function indent(n: bigint, x: string): string {
  const pad = ' '.repeat(Math.max(0, Number(n)));
  return pad + x.replace(/\n/g, `\n${pad}`);
}

function align(count: bigint, src: string, left: boolean): string {
  const r = runes(src);
  const c = Number(count);
  if (c < 0 || c === r.length) return src;
  if (c > r.length) return left ? src + ' '.repeat(c - r.length) : ' '.repeat(c - r.length) + src;
  return left ? r.slice(0, c).join('') : r.slice(r.length - c).join('');
}

function b64dec(v: string): string {
  const rem = v.length % 4;
  if (rem !== 0 && rem !== 1) v += '='.repeat(4 - rem);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) return `illegal base64 data at input byte ${Math.max(0, v.search(/[^A-Za-z0-9+/=]/))}`;
  return Buffer.from(v, 'base64').toString('utf8');
}

/** url.QueryUnescape. */
function urldecode(x: string): string {
  const bad = /%(?![0-9a-fA-F]{2})/.exec(x);
  if (bad !== null) throw new Error(`invalid URL escape ${JSON.stringify(x.slice(bad.index, bad.index + 3))}`);
  return Buffer.from(x.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

/** url.QueryEscape. */
function urlencode(x: string): string {
  let out = '';
  for (const b of Buffer.from(x, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function goRound(a: GoValue, p: GoValue, rOpt: GoValue[]): number {
  // sprig round: math.Floor(val*10^p + r) / 10^p with r = .5 by default.
  const val = toFloat64(a);
  const places = Number(toInt64(p));
  const r = rOpt.length > 0 ? toFloat64(rOpt[0]!) : 0.5;
  const pow = 10 ** places;
  const digit = val * pow;
  const rem = digit - Math.trunc(digit);
  const rounded = rem >= r ? Math.ceil(digit) : Math.floor(digit);
  return rounded / pow;
}

const LOKI_FUNCS_OWN: Array<[string, FuncDef]> = [
  // fmt.go functionMap
  ['ToLower', str1((x) => x.toLowerCase())],
  ['ToUpper', str1((x) => x.toUpperCase())],
  ['Replace', { params: ['string', 'string', 'string', 'any'], call: (a) => {
    const n = Number(toInt64(a[3]!));
    const [x, o, nw] = [a[0] as string, a[1] as string, a[2] as string];
    if (n < 0) return o === '' ? runes(x).join(nw) : x.split(o).join(nw);
    let out = x;
    let from = 0;
    for (let k = 0; k < n; k++) {
      const i = out.indexOf(o, from);
      if (i < 0) break;
      out = out.slice(0, i) + nw + out.slice(i + o.length);
      from = i + nw.length + (o === '' ? 1 : 0);
    }
    return out;
  } }],
  ['Trim', { params: ['string', 'string'], call: (a) => trimSet(a[0] as string, a[1] as string, true, true) }],
  ['TrimLeft', { params: ['string', 'string'], call: (a) => trimSet(a[0] as string, a[1] as string, true, false) }],
  ['TrimRight', { params: ['string', 'string'], call: (a) => trimSet(a[0] as string, a[1] as string, false, true) }],
  ['TrimPrefix', { params: ['string', 'string'], call: (a) => ((a[0] as string).startsWith(a[1] as string) ? (a[0] as string).slice((a[1] as string).length) : (a[0] as string)) }],
  ['TrimSuffix', { params: ['string', 'string'], call: (a) => ((a[0] as string).endsWith(a[1] as string) && (a[1] as string) !== '' ? (a[0] as string).slice(0, -(a[1] as string).length) : (a[0] as string)) }],
  ['TrimSpace', str1(goTrimSpace)],
  ['regexReplaceAll', { params: ['string', 'string', 'string'], call: (a) => replaceAll(compileSubmatchRegex(a[0] as string), a[2] as string, a[1] as string) }],
  ['regexReplaceAllLiteral', { params: ['string', 'string', 'string'], call: (a) => replaceAll(compileSubmatchRegex(a[0] as string), (a[2] as string).replace(/\$/g, '$$$$'), a[1] as string) }],
  ['count', { params: ['string', 'string'], call: (a) => {
    // Regexp.FindAllStringIndex(s, -1): an empty match right after a match is skipped.
    const re = compileSubmatchRegex(a[0] as string);
    const text = a[1] as string;
    let n = 0n;
    let pos = 0;
    let lastEnd = -1;
    while (pos <= text.length) {
      const m = re.exec(text, pos);
      if (m === null) break;
      const len = m.groups[0]!.length;
      const end = m.index + len;
      if (!(len === 0 && m.index === lastEnd)) n++;
      lastEnd = end;
      pos = end > m.index ? end : m.index + 1;
    }
    return n;
  } }],
  ['urldecode', str1(urldecode)],
  ['urlencode', str1(urlencode)],
  ['bytes', str1((x) => { const r = parseHumanBytes(x); if (!r.ok) throw new Error(r.error); return formatFloatV(r.value); })],
  ['duration', str1((x) => { const r = parseGoDurationSeconds(x); if (!r.ok) throw new Error(r.error); return formatFloatV(r.value); })],
  ['duration_seconds', str1((x) => { const r = parseGoDurationSeconds(x); if (!r.ok) throw new Error(r.error); return formatFloatV(r.value); })],
  ['alignLeft', { params: ['any', 'string'], call: (a) => align(toInt64(a[0]!), a[1] as string, true) }],
  ['alignRight', { params: ['any', 'string'], call: (a) => align(toInt64(a[0]!), a[1] as string, false) }],
  ['b64dec', str1(b64dec)],
  ['__line__', { params: [], call: (_a, ctx) => ctx.logLine ?? '' }],
  // sprig
  ['b64enc', f1((a) => Buffer.from(s(a[0]!), 'utf8').toString('base64'))],
  ['lower', str1((x) => x.toLowerCase())],
  ['upper', str1((x) => x.toUpperCase())],
  ['title', str1(goTitle)],
  ['trunc', { params: ['any', 'string'], call: (a) => {
    const c = Number(toInt64(a[0]!));
    const r = runes(a[1] as string);
    if (c < 0 && r.length + c > 0) return r.slice(r.length + c).join('');
    if (c >= 0 && r.length > c) return r.slice(0, c).join('');
    return a[1] as string;
  } }],
  ['substr', { params: ['any', 'any', 'string'], call: (a) => {
    const st = Number(toInt64(a[0]!));
    const en = Number(toInt64(a[1]!));
    const x = a[2] as string;
    if (st < 0) return x.slice(0, Math.max(0, en));
    if (en < 0 || en > x.length) return x.slice(st);
    return x.slice(st, en);
  } }],
  ['contains', { params: ['string', 'string'], call: (a) => (a[1] as string).includes(a[0] as string) }],
  ['hasPrefix', { params: ['string', 'string'], call: (a) => (a[1] as string).startsWith(a[0] as string) }],
  ['hasSuffix', { params: ['string', 'string'], call: (a) => (a[1] as string).endsWith(a[0] as string) }],
  ['indent', { params: ['any', 'string'], call: (a) => indent(toInt64(a[0]!), a[1] as string) }],
  ['nindent', { params: ['any', 'string'], call: (a) => `\n${indent(toInt64(a[0]!), a[1] as string)}` }],
  ['replace', { params: ['string', 'string', 'string'], call: (a) => (a[0] === '' ? runes(a[2] as string).join(a[1] as string) : (a[2] as string).split(a[0] as string).join(a[1] as string)) }],
  ['repeat', { params: ['any', 'string'], call: (a) => (a[1] as string).repeat(Math.max(0, Number(toInt64(a[0]!)))) }],
  ['trim', str1(goTrimSpace)],
  ['trimAll', { params: ['string', 'string'], call: (a) => trimSet(a[1] as string, a[0] as string, true, true) }],
  ['trimSuffix', { params: ['string', 'string'], call: (a) => ((a[1] as string).endsWith(a[0] as string) && a[0] !== '' ? (a[1] as string).slice(0, -(a[0] as string).length) : (a[1] as string)) }],
  ['trimPrefix', { params: ['string', 'string'], call: (a) => ((a[1] as string).startsWith(a[0] as string) ? (a[1] as string).slice((a[0] as string).length) : (a[1] as string)) }],
  ['int', f1((a) => toInt64(a[0]!))],
  ['float64', f1((a) => toFloat64(a[0]!))],
  ['add', { params: [], variadic: 'any', call: (a) => a.reduce<bigint>((acc, x) => BigInt.asIntN(64, acc + toInt64(x)), 0n) }],
  ['sub', f1((a) => BigInt.asIntN(64, toInt64(a[0]!) - toInt64(a[1]!)), ['any', 'any'])],
  ['mul', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<bigint>((acc, x) => BigInt.asIntN(64, acc * toInt64(x)), toInt64(a[0]!)) }],
  ['div', f1((a) => {
    const d = toInt64(a[1]!);
    if (d === 0n) throw new Error('runtime error: integer divide by zero');
    return toInt64(a[0]!) / d;
  }, ['any', 'any'])],
  ['mod', f1((a) => {
    const d = toInt64(a[1]!);
    if (d === 0n) throw new Error('runtime error: integer divide by zero');
    return toInt64(a[0]!) % d;
  }, ['any', 'any'])],
  ['addf', { params: [], variadic: 'any', call: (a) => a.reduce<number>((acc, x) => decOp('+', acc, toFloat64(x)), 0) }],
  ['subf', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<number>((acc, x) => decOp('-', acc, toFloat64(x)), toFloat64(a[0]!)) }],
  ['mulf', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<number>((acc, x) => decOp('*', acc, toFloat64(x)), toFloat64(a[0]!)) }],
  ['divf', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<number>((acc, x) => decOp('/', acc, toFloat64(x)), toFloat64(a[0]!)) }],
  ['max', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<bigint>((acc, x) => (toInt64(x) > acc ? toInt64(x) : acc), toInt64(a[0]!)) }],
  ['min', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<bigint>((acc, x) => (toInt64(x) < acc ? toInt64(x) : acc), toInt64(a[0]!)) }],
  ['maxf', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<number>((acc, x) => Math.max(acc, toFloat64(x)), toFloat64(a[0]!)) }],
  ['minf', { params: ['any'], variadic: 'any', call: (a) => a.slice(1).reduce<number>((acc, x) => Math.min(acc, toFloat64(x)), toFloat64(a[0]!)) }],
  ['ceil', f1((a) => Math.ceil(toFloat64(a[0]!)))],
  ['floor', f1((a) => Math.floor(toFloat64(a[0]!)))],
  ['round', { params: ['any', 'any'], variadic: 'any', call: (a) => goRound(a[0]!, a[1]!, a.slice(2)) }],
  ['default', { params: ['any'], variadic: 'any', call: (a) => (a.length < 2 || empty(a[1]!) ? a[0]! : a[1]!) }],
  // Go time values (UTC, as Loki in its images); parsing dates from text is not supported.
  ['__timestamp__', { params: [], call: (_a, ctx) => new GoTime(ctx.logTimeMs ?? 0, ctx.logTimeNsRem ?? 0) }],
  ['now', { params: [], call: () => new GoTime(Date.now(), 0) }],
  ['date', { params: ['string', 'any'], call: (a) => formatGoTime(asTime(a[1]!), a[0] as string) }],
  ['unixEpoch', { params: ['any'], call: (a) => String(Math.floor(needTime(a[0]!, 'unixEpoch').ms / 1000)) }],
  ['unixEpochMillis', { params: ['any'], call: (a) => String(needTime(a[0]!, 'unixEpochMillis').ms) }],
  ['unixEpochNanos', { params: ['any'], call: (a) => unixNanos(needTime(a[0]!, 'unixEpochNanos')) }],
  ['unixToTime', str1Time((x) => unixToTime(x))],
  ['toDate', unsupported('toDate', 'parsing dates from text is not supported')],
  ['toDateInZone', unsupported('toDateInZone', 'parsing dates from text is not supported')],
  ['fromJson', unsupported('fromJson', 'JSON objects are not supported')],
];

/** Go builtins (and, or, printf, eq …) plus Loki's set. Prometheus-only functions are not visible. */
export const LOKI_TEMPLATE_FUNCS: ReadonlyMap<string, FuncDef> = new Map<string, FuncDef>([...GO_BUILTINS, ...LOKI_FUNCS_OWN]);
