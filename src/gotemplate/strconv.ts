/**
 * Go's strconv for templates: float64 formatting (shortest digits for %v,
 * round-half-even on the exact binary value for %e/%f/%g), ParseFloat, and
 * Go-syntax quoting (Quote, QuoteRune).
 */
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

export function isPrint(cp: number): boolean {
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
export function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x60 || cp === 0xfeff) return false;
    if ((cp < 0x20 && cp !== 9) || cp === 0x7f) return false;
  }
  return true;
}

