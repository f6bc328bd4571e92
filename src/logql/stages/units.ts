/**
 * Value conversions of LogQL's label filters and `unwrap` with Go's exact
 * acceptance rules and error texts (they end up in `__error_details__`):
 * strconv.ParseFloat, time.ParseDuration, go-humanize ParseBytes
 * (pkg/logql/log/metrics_extraction.go convertFloat/convertDuration/convertBytes,
 * label_filter.go).
 */

export type Parsed = { ok: true; value: number } | { ok: false; error: string };

const DECIMAL = /^[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?$/;
const HEX = /^[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*)?[pP][+-]?\d+$/;
const SPECIAL = /^(?:[+-]?(?:inf|infinity)|nan)$/i;

function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** strconv.ParseFloat(s, 64). Out of range is an error (Go returns ±Inf with ErrRange). */
export function parseGoFloat(s: string): Parsed {
  if (SPECIAL.test(s)) {
    const neg = s[0] === '-';
    if (/nan/i.test(s)) return { ok: true, value: NaN };
    return { ok: true, value: neg ? -Infinity : Infinity };
  }
  // Underscores are only allowed with a base prefix in ParseFloat.
  if (DECIMAL.test(s) && !s.includes('_')) {
    const v = Number(s);
    if (!Number.isFinite(v)) return { ok: false, error: `strconv.ParseFloat: parsing ${goQuote(s)}: value out of range` };
    return { ok: true, value: v };
  }
  if (HEX.test(s)) {
    const neg = s[0] === '-';
    const body = s.replace(/^[+-]?0[xX]/, '').replace(/_/g, '');
    const [mant, exp] = body.split(/[pP]/) as [string, string];
    const [ip, fp = ''] = mant.split('.') as [string, string?];
    let v = 0;
    for (const c of ip) v = v * 16 + parseInt(c, 16);
    let scale = 1 / 16;
    for (const c of fp) {
      v += parseInt(c, 16) * scale;
      scale /= 16;
    }
    v *= 2 ** Number(exp);
    if (!Number.isFinite(v)) return { ok: false, error: `strconv.ParseFloat: parsing ${goQuote(s)}: value out of range` };
    return { ok: true, value: neg ? -v : v };
  }
  return { ok: false, error: `strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax` };
}

const GO_UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const MAX_NS = 9223372036854775807;

/** time.ParseDuration, in nanoseconds (as a float; exact for every realistic value). */
export function parseGoDurationNs(s: string): Parsed {
  const orig = s;
  let i = 0;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    i = 1;
  }
  if (s.slice(i) === '0') return { ok: true, value: 0 };
  if (i === s.length) return { ok: false, error: `time: invalid duration ${goQuote(orig)}` };
  let total = 0;
  while (i < s.length) {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s.slice(i))!;
    if (m[0] === '' || m[0] === '.' || (m[1] === '' && (m[2] ?? '') === '')) return { ok: false, error: `time: invalid duration ${goQuote(orig)}` };
    i += m[0].length;
    const u = /^[^0-9.]*/.exec(s.slice(i))![0];
    if (u === '') return { ok: false, error: `time: missing unit in duration ${goQuote(orig)}` };
    const unit = GO_UNIT_NS[u];
    if (unit === undefined) return { ok: false, error: `time: unknown unit ${goQuote(u)} in duration ${goQuote(orig)}` };
    i += u.length;
    const whole = m[1] === '' ? 0 : Number(m[1]);
    const frac = m[2] !== undefined && m[2] !== '' ? Number(`0.${m[2]}`) : 0;
    total += whole * unit + frac * unit;
    if (total > MAX_NS) return { ok: false, error: `time: invalid duration ${goQuote(orig)}` };
  }
  return { ok: true, value: neg ? -total : total };
}

/** time.ParseDuration(s).Seconds(). */
export function parseGoDurationSeconds(s: string): Parsed {
  const r = parseGoDurationNs(s);
  return r.ok ? { ok: true, value: r.value / 1e9 } : r;
}

const BYTES_TABLE: Record<string, number> = {
  b: 1, '': 1,
  kib: 1024, ki: 1024, kb: 1000, k: 1000,
  mib: 1024 ** 2, mi: 1024 ** 2, mb: 1e6, m: 1e6,
  gib: 1024 ** 3, gi: 1024 ** 3, gb: 1e9, g: 1e9,
  tib: 1024 ** 4, ti: 1024 ** 4, tb: 1e12, t: 1e12,
  pib: 1024 ** 5, pi: 1024 ** 5, pb: 1e15, p: 1e15,
  eib: 1024 ** 6, ei: 1024 ** 6, eb: 1e18, e: 1e18,
};

/** go-humanize ParseBytes: "42", "42 MB", "42mib", "1,024 kB". Result is a uint64 (truncated). */
export function parseHumanBytes(s: string): Parsed {
  let last = 0;
  let hasComma = false;
  while (last < s.length) {
    const c = s[last]!;
    if (!((c >= '0' && c <= '9') || c === '.' || c === ',')) break;
    if (c === ',') hasComma = true;
    last++;
  }
  let num = s.slice(0, last);
  if (hasComma) num = num.replace(/,/g, '');
  const f = parseGoFloat(num);
  if (!f.ok) return f;
  const extra = s.slice(last).trim().toLowerCase();
  const mult = Object.hasOwn(BYTES_TABLE, extra) ? BYTES_TABLE[extra] : undefined;
  if (mult === undefined) return { ok: false, error: `unhandled size name: ${extra}` };
  const v = f.value * mult;
  if (v >= 18446744073709551615) return { ok: false, error: `too large: ${s}` };
  return { ok: true, value: Math.trunc(v) };
}
