/**
 * The Go values an alert template works with, and how Go's fmt and strconv
 * print them. Prometheus renders `{{ $value }}` with fmt (`%v` of a float64:
 * shortest digits, exponent from 1e+06 on), so "same annotation text as Loki"
 * means reproducing fmt exactly: verbs, flags, width, precision, the
 * `%!d(string=x)` error forms, and round-half-even on the exact binary value.
 * Checked against promtool 2.42 (test rules) output.
 */

/** Go `map[string]string` (labels, external labels). */
export class GoMap {
  constructor(readonly entries: Readonly<Record<string, string>>) {}
  get(key: string): string {
    // missingkey=zero: a missing key reads as "" (the zero string).
    return Object.prototype.hasOwnProperty.call(this.entries, key) ? this.entries[key]! : '';
  }
  sortedKeys(): string[] {
    return Object.keys(this.entries).sort(compareBytes);
  }
}

/** The data Prometheus hands an alert template (`.Labels`, `.Value`, …). */
export class AlertData {
  constructor(
    readonly Labels: GoMap,
    readonly ExternalLabels: GoMap,
    readonly ExternalURL: string,
    readonly Value: number,
    /** `$lines`: the alert's evidence lines as text (sidecar extension, issue #18; not a struct field). */
    readonly Lines = '',
  ) {}
}

export const ALERT_DATA_TYPE =
  'struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }';
export const ALERT_DATA_FIELDS = ['Labels', 'ExternalLabels', 'ExternalURL', 'Value'] as const;

/**
 * A Go value: string, float64 (number), int (bigint), bool, map[string]string,
 * the alert data struct, or nil (null).
 */
export type GoValue = string | number | bigint | boolean | GoMap | AlertData | null;

export function goTypeName(v: GoValue): string {
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'float64';
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
  }
  return v instanceof GoMap ? 'map[string]string' : ALERT_DATA_TYPE;
}

/** Go compares strings bytewise (UTF-8), which is code point order. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

// ---------------------------------------------------------------- floats

/** Decimal digits of |v|: value = 0.d × 10^dp; d has no leading/trailing zeros ("" for 0). */
interface Digits {
  d: string;
  dp: number;
}

const f64 = new DataView(new ArrayBuffer(8));

/** The exact decimal expansion of a finite double (every double has one). */
function exactDigits(v: number): Digits {
  f64.setFloat64(0, Math.abs(v));
  const hi = f64.getUint32(0);
  const lo = f64.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2: number;
  if (bexp === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = bexp - 1075;
  }
  if (mant === 0n) return { d: '', dp: 0 };
  let d: string;
  let dp: number;
  if (e2 >= 0) {
    d = (mant << BigInt(e2)).toString();
    dp = d.length;
  } else {
    // m × 2^e2 = m × 5^-e2 / 10^-e2
    d = (mant * 5n ** BigInt(-e2)).toString();
    dp = d.length + e2;
  }
  return { d: d.replace(/0+$/, ''), dp };
}

/** Shortest digits that read back as v (what Go's `-1` precision and JS's toString share). */
function shortestDigits(v: number): Digits {
  if (v === 0) return { d: '', dp: 0 };
  const s = Math.abs(v).toExponential();
  const e = s.indexOf('e');
  const d = (s[0]! + s.slice(2, e)).replace(/0+$/, '');
  return { d, dp: Number(s.slice(e + 1)) + 1 };
}

/** Round exact digits to nd significant digits, ties to even (strconv's decimal.Round). */
function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0) return { d: '', dp: 0 };
  if (nd >= x.d.length) return x;
  const c = x.d.charCodeAt(nd) - 48;
  let up: boolean;
  if (c !== 5 || nd + 1 < x.d.length) up = c >= 5;
  else up = nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  if (!up) return { d: x.d.slice(0, nd).replace(/0+$/, ''), dp: x.d.slice(0, nd) === '' ? 0 : x.dp };
  let i = nd - 1;
  while (i >= 0 && x.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: x.dp + 1 };
  return { d: x.d.slice(0, i) + String.fromCharCode(x.d.charCodeAt(i) + 1), dp: x.dp };
}

function fmtE(x: Digits, prec: number, e: string): string {
  let s = x.d.length === 0 ? '0' : x.d[0]!;
  if (prec > 0) {
    s += '.';
    const frac = x.d.slice(1, 1 + prec);
    s += frac + '0'.repeat(prec - frac.length);
  }
  const exp = x.d.length === 0 ? 0 : x.dp - 1;
  const ae = Math.abs(exp);
  return `${s}${e}${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
}

function fmtF(x: Digits, prec: number): string {
  let s: string;
  if (x.dp > 0) s = x.d.length >= x.dp ? x.d.slice(0, x.dp) : x.d + '0'.repeat(x.dp - x.d.length);
  else s = '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = x.dp + i - 1;
      s += j >= 0 && j < x.d.length ? x.d[j] : '0';
    }
  }
  return s;
}

/**
 * strconv.FormatFloat(|v|, verb, prec, 64) for verbs e E f F g G; prec -1 is
 * "shortest". v must be finite; the sign is the caller's business.
 */
export function formatFloatAbs(v: number, verb: string, prec: number): string {
  const shortest = prec < 0;
  switch (verb) {
    case 'e':
    case 'E': {
      const x = shortest ? shortestDigits(v) : roundDigits(exactDigits(v), prec + 1);
      return fmtE(x, shortest ? Math.max(x.d.length - 1, 0) : prec, verb);
    }
    case 'f':
    case 'F': {
      if (shortest) {
        const x = shortestDigits(v);
        return fmtF(x, Math.max(x.d.length - x.dp, 0));
      }
      const ex = exactDigits(v);
      return fmtF(roundDigits(ex, ex.dp + prec), prec);
    }
    default: {
      // g / G
      let p = prec;
      if (p === 0) p = 1;
      const x = shortest ? shortestDigits(v) : roundDigits(exactDigits(v), p);
      if (shortest) p = x.d.length;
      let eprec = p;
      if (eprec > x.d.length && x.d.length >= x.dp) eprec = x.d.length;
      if (shortest) eprec = 6;
      const exp = x.dp - 1;
      if (x.d.length !== 0 && (exp < -4 || exp >= eprec)) {
        return fmtE(x, Math.min(p, x.d.length) - 1, verb === 'G' ? 'E' : 'e');
      }
      return fmtF(x, Math.max((p > x.dp ? x.d.length : p) - x.dp, 0));
    }
  }
}

/** Go's `%v` / strconv 'g' -1 of a float64: 1 → "1", 0.5 → "0.5", 1e6 → "1e+06", +Inf → "+Inf". */
export function formatFloatV(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  return (neg ? '-' : '') + formatFloatAbs(v, 'g', -1);
}

/** strconv.ParseFloat(s, 64): Go's grammar, not JavaScript's (no blanks, "" is an error). */
export function parseGoFloat(s: string): number {
  const fail = (why: string): never => {
    throw new Error(`strconv.ParseFloat: parsing ${quoteGo(s)}: ${why}`);
  };
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return special[1] === '' ? NaN : fail('invalid syntax');
    return special[1] === '-' ? -Infinity : Infinity;
  }
  // Underscores are only allowed with a base prefix in Go; decimal forms only here.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) fail('invalid syntax');
  const n = Number(s);
  if (!Number.isFinite(n)) fail('value out of range');
  return n;
}

// ---------------------------------------------------------------- quoting

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isPrint(cp: number): boolean {
  if (cp < 0x7f) return cp >= 0x20;
  if (cp < 0xa1) return false;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

function escapeRune(cp: number, quote: number): string {
  if (cp === quote || cp === 0x5c) return '\\' + String.fromCodePoint(cp);
  if (isPrint(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 12:
      return '\\f';
    case 10:
      return '\\n';
    case 13:
      return '\\r';
    case 9:
      return '\\t';
    case 11:
      return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp >= 0xd800 && cp <= 0xdfff) return '\\ufffd';
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/** strconv.Quote */
export function quoteGo(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, 0x22);
  return out + '"';
}

/** strconv.QuoteRune */
export function quoteRuneGo(cp: number): string {
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  return "'" + escapeRune(cp, 0x27) + "'";
}

/** strconv.CanBackquote */
function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x60 || cp === 0xfeff) return false;
    if ((cp < 0x20 && cp !== 9) || cp === 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------- fmt

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number; // -1: none
  prec: number; // -1: none
}

const NO_SPEC: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false, width: -1, prec: -1 };

const utf8 = new TextEncoder();

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, f: Spec, zeroOk = false): string {
  if (f.width < 0) return s;
  const n = runeCount(s);
  if (n >= f.width) return s;
  const fill = f.width - n;
  if (f.minus) return s + ' '.repeat(fill);
  if (f.zero && zeroOk) {
    // Sign goes before the zeros.
    const sign = s[0] === '-' || s[0] === '+' || s[0] === ' ' ? s[0] : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return ' '.repeat(fill) + s;
}

function truncRunes(s: string, prec: number): string {
  if (prec < 0) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    if (n++ >= prec) break;
    out += ch;
  }
  return out;
}

function fmtFloatVerb(v: number, verb: string, f: Spec): string {
  const goVerb = verb === 'v' ? 'g' : verb;
  let prec = f.prec;
  if (prec < 0 && goVerb !== 'g' && goVerb !== 'G') prec = 6;
  let body: string;
  let neg = false;
  if (Number.isNaN(v)) body = 'NaN';
  else if (!Number.isFinite(v)) {
    body = 'Inf';
    neg = v < 0;
  } else {
    neg = v < 0 || Object.is(v, -0);
    body = formatFloatAbs(v, goVerb, prec);
    if (f.sharp && goVerb !== 'e' && goVerb !== 'E' && !body.includes('.')) {
      // %#g keeps a decimal point; rare, done simply.
      const e = body.search(/[eE]/);
      body = e < 0 ? body + '.' : body.slice(0, e) + '.' + body.slice(e);
    }
  }
  let sign = neg ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  // fmt always shows the sign of +Inf (strconv writes "+Inf").
  if (body === 'Inf' && !neg && !f.space) sign = '+';
  const special = body === 'NaN' || body === 'Inf';
  if (body === 'NaN' && !f.plus && !f.space) sign = '';
  return pad(sign + body, f, !special);
}

function intDigits(v: bigint, base: number, upper: boolean): string {
  const s = (v < 0n ? -v : v).toString(base);
  return upper ? s.toUpperCase() : s;
}

function fmtInt(v: bigint, verb: string, f: Spec): string | undefined {
  let body: string;
  let prefix = '';
  switch (verb) {
    case 'v':
    case 'd':
      body = intDigits(v, 10, false);
      break;
    case 'x':
    case 'X':
      body = intDigits(v, 16, verb === 'X');
      if (f.sharp) prefix = verb === 'x' ? '0x' : '0X';
      break;
    case 'o':
      body = intDigits(v, 8, false);
      if (f.sharp) prefix = '0';
      break;
    case 'O':
      body = intDigits(v, 8, false);
      prefix = '0o';
      break;
    case 'b':
      body = intDigits(v, 2, false);
      break;
    case 'c':
      return pad(String.fromCodePoint(validRune(v)), f);
    case 'q':
      return pad(quoteRuneGo(Number(v)), f);
    case 'U': {
      const hex = intDigits(v, 16, true).padStart(4, '0');
      let s = (v < 0n ? '-' : '') + 'U+' + hex;
      if (f.sharp && v >= 0n && v <= 0x10ffffn && isPrint(Number(v))) s += ` '${String.fromCodePoint(Number(v))}'`;
      return pad(s, f);
    }
    default:
      return undefined;
  }
  if (f.prec >= 0) {
    if (f.prec === 0 && v === 0n) body = '';
    body = body.padStart(f.prec, '0');
  }
  const sign = v < 0n ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  if (prefix === '0' && body.startsWith('0')) prefix = '';
  return pad(sign + prefix + body, f, f.prec < 0);
}

function validRune(v: bigint): number {
  const n = Number(v);
  return n < 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff) ? 0xfffd : n;
}

function hexBytes(s: string, upper: boolean, f: Spec): string {
  const bytes = utf8.encode(s);
  const parts: string[] = [];
  for (const b of bytes) {
    let h = b.toString(16).padStart(2, '0');
    if (upper) h = h.toUpperCase();
    if (f.sharp) h = (upper ? '0X' : '0x') + h;
    parts.push(h);
  }
  return parts.join(f.space ? ' ' : '');
}

function fmtString(s: string, verb: string, f: Spec): string | undefined {
  switch (verb) {
    case 'v':
    case 's':
      return pad(truncRunes(s, f.prec), f);
    case 'q': {
      const t = truncRunes(s, f.prec);
      return pad(f.sharp && canBackquote(t) ? '`' + t + '`' : quoteGo(t), f);
    }
    case 'x':
    case 'X': {
      const t = f.prec >= 0 ? new TextDecoder().decode(utf8.encode(s).slice(0, f.prec)) : s;
      return pad(hexBytes(t, verb === 'X', f), f);
    }
    default:
      return undefined;
  }
}

/** Format one value for one verb; undefined when the verb does not apply (→ %!verb(type=value)). */
function fmtValue(v: GoValue, verb: string, f: Spec): string | undefined {
  if (v === null) return verb === 'v' ? pad('<nil>', f) : undefined;
  switch (typeof v) {
    case 'string':
      return fmtString(v, verb, f);
    case 'number':
      return 'veEfFgG'.includes(verb) ? fmtFloatVerb(v, verb, f) : undefined;
    case 'bigint':
      return fmtInt(v, verb, f);
    case 'boolean':
      return verb === 'v' || verb === 't' ? pad(v ? 'true' : 'false', f) : undefined;
  }
  if (v instanceof GoMap) {
    // fmt applies the verb to every key and element.
    const parts = v.sortedKeys().map((k) => `${fmtOrBad(k, verb, f)}:${fmtOrBad(v.entries[k]!, verb, f)}`);
    return `map[${parts.join(' ')}]`;
  }
  const fields = ALERT_DATA_FIELDS.map((name) => {
    const s = fmtOrBad(v[name] as GoValue, verb, f);
    return f.plus ? `${name}:${s}` : s;
  });
  return `{${fields.join(' ')}}`;
}

function fmtOrBad(v: GoValue, verb: string, f: Spec): string {
  return fmtValue(v, verb, f) ?? badVerb(v, verb);
}

function badVerb(v: GoValue, verb: string): string {
  if (v === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${fmtOrBad(v, 'v', NO_SPEC)})`;
}

/** fmt.Sprint: %v of each operand, a space between operands when neither is a string. */
export function sprint(args: readonly GoValue[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += fmtOrBad(a, 'v', NO_SPEC);
  }
  return out;
}

/** fmt.Sprintln */
export function sprintln(args: readonly GoValue[]): string {
  return args.map((a) => fmtOrBad(a, 'v', NO_SPEC)).join(' ') + '\n';
}

/** Go's limit on width and precision ("tooLarge"). */
const MAX_WIDTH = 1e6;

/** fmt.Sprintf, including Go's error forms for missing, extra and mismatched arguments. */
export function sprintf(format: string, args: readonly GoValue[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  let goodArgNum = true;
  const n = format.length;
  let i = 0;

  // %[n] argument index; returns the new position.
  const argIndex = (pos: number): number => {
    if (pos >= n || format[pos] !== '[') return pos;
    reordered = true;
    const close = format.indexOf(']', pos);
    const m = close > pos ? /^\d+$/.exec(format.slice(pos + 1, close)) : null;
    if (!m) {
      goodArgNum = false;
      return close < 0 ? n : close + 1;
    }
    const idx = Number(m[0]) - 1;
    if (idx < 0 || idx > args.length) goodArgNum = false;
    else argNum = idx;
    return close + 1;
  };

  const intArg = (): number | undefined => {
    if (argNum >= args.length) return undefined;
    const a = args[argNum++]!;
    if (typeof a !== 'bigint') return undefined;
    const v = Number(a);
    return Math.abs(v) > MAX_WIDTH ? undefined : v;
  };

  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f: Spec = { ...NO_SPEC };
    // flags
    for (; i < n; i++) {
      const c = format[i];
      if (c === '#') f.sharp = true;
      else if (c === '0') f.zero = !f.minus;
      else if (c === '+') f.plus = true;
      else if (c === '-') {
        f.minus = true;
        f.zero = false;
      } else if (c === ' ') f.space = true;
      else break;
    }
    // width
    i = argIndex(i);
    if (i < n && format[i] === '*') {
      i++;
      const w = intArg();
      if (w === undefined) out += '%!(BADWIDTH)';
      else {
        f.width = Math.abs(w);
        if (w < 0) {
          f.minus = true;
          f.zero = false;
        }
      }
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        f.width = Number(m[0]);
        i += m[0].length;
        if (f.width > MAX_WIDTH) {
          out += '%!(BADWIDTH)';
          f.width = -1;
        }
      }
    }
    // precision
    if (i < n && format[i] === '.') {
      i++;
      i = argIndex(i);
      if (i < n && format[i] === '*') {
        i++;
        const p = intArg();
        if (p === undefined || p < 0) {
          out += '%!(BADPREC)';
          f.prec = -1;
        } else f.prec = p;
      } else {
        const m = /^\d*/.exec(format.slice(i))!;
        f.prec = m[0] === '' ? 0 : Number(m[0]);
        i += m[0].length;
        if (f.prec > MAX_WIDTH) {
          out += '%!(BADPREC)';
          f.prec = -1;
        }
      }
    }
    i = argIndex(i);
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const cp = format.codePointAt(i)!;
    const verb = String.fromCodePoint(cp);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodArgNum) {
      out += `%!${verb}(BADINDEX)`;
      goodArgNum = true;
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argNum++]!;
    out += fmtValue(a, verb, f) ?? badVerb(a, verb);
  }
  if (!reordered && argNum < args.length) {
    out += '%!(EXTRA ' + args.slice(argNum).map((a) => (a === null ? '<nil>' : `${goTypeName(a)}=${fmtOrBad(a, 'v', NO_SPEC)}`)).join(', ') + ')';
  }
  return out;
}
