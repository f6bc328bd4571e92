/**
 * Go's fmt as alert templates use it. Prometheus renders `{{ $value }}` with
 * fmt (`%v` of a float64: shortest digits, exponent from 1e+06 on), so "same
 * annotation text as Loki" means reproducing fmt exactly: verbs, flags, width,
 * precision, the `%!d(string=x)` error forms. Checked against promtool 2.42
 * (test rules) output.
 */
import { canBackquote, formatFloatAbs, isPrint, quoteGo, quoteRuneGo } from './strconv.js';
import { ALERT_DATA_FIELDS, GoMap, GoTime, goTypeName, type GoValue } from './values.js';
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
  if (v instanceof GoTime) return verb === 'v' || verb === 's' ? pad(goTimeString(v), f) : undefined;
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

/** time.Time.String() in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC" (fraction without trailing zeros). */
export function goTimeString(t: GoTime): string {
  const d = new Date(t.ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const ns = (((t.ms % 1000) + 1000) % 1000) * 1_000_000 + t.nsRem;
  const frac = ns === 0 ? '' : `.${String(ns).padStart(9, '0').replace(/0+$/, '')}`;
  return `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}${frac} +0000 UTC`;
}
