/**
 * `talos-time`: Go's time.RFC3339Nano in UTC (`2021-11-26T16:53:21.3258698Z`):
 * 0 to 9 fractional digits, trailing zeros trimmed, always `Z`. Times are
 * carried as whole epoch milliseconds plus a 0..999 999 ns remainder (the
 * split LogEvent uses) so nanosecond precision survives. Parsed by hand to
 * keep nanoseconds, which Date.parse drops, and because it runs once per
 * line; offsets other than `Z` are accepted too (RFC 3339), in case a relay
 * rewrites the record.
 */
export interface TalosTime {
  /** Whole milliseconds since the Unix epoch. */
  ms: number;
  /** Sub-millisecond remainder, 0..999 999 ns. */
  nsRem: number;
}

function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS[month - 1]!;
}

/** Parses an RFC 3339 timestamp (`T`, `t` or space between date and time; up to 9 fractional digits kept). */
export function parseTalosTime(s: string): TalosTime | undefined {
  if (s.length < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  const sep = s.charCodeAt(10);
  if (sep !== 84 && sep !== 116 && sep !== 32) return undefined; // T, t or space
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const min = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60) {
    return undefined;
  }
  let i = 19;
  let frac = 0;
  let fracDigits = 0;
  if (s.charCodeAt(i) === 46) {
    i++;
    while (i < s.length) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      if (fracDigits < 9) {
        frac = frac * 10 + c;
        fracDigits++;
      }
      i++;
    }
    if (fracDigits === 0) return undefined;
  }
  for (let k = fracDigits; k < 9; k++) frac *= 10;
  let offsetMin = 0;
  const z = s.charCodeAt(i);
  if ((z === 90 || z === 122) && i + 1 === s.length) {
    // Z
  } else if ((z === 43 || z === 45) && i + 6 === s.length && s.charCodeAt(i + 3) === 58) {
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
    offsetMin = (z === 43 ? 1 : -1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  // Date.UTC silently rolls 31 Feb into March; RFC 3339 doesn't.
  if (day > daysInMonth(year, month)) return undefined;
  const base = Date.UTC(year, month - 1, day, hour, min, sec);
  const msPart = Math.floor(frac / 1e6);
  return { ms: base + msPart - offsetMin * 60_000, nsRem: frac - msPart * 1e6 };
}

// The date part changes once a second; caching it keeps formatting cheap on hot paths.
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/** Format as Talos does (`2021-11-26T16:53:21.3258698Z`). */
export function formatTalosTime(ms: number, nsRem = 0): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  let frac = (ms - second * 1000) * 1_000_000 + nsRem;
  if (frac === 0) return cachedPrefix + 'Z';
  let width = 9;
  while (frac % 10 === 0) {
    frac /= 10;
    width--;
  }
  return `${cachedPrefix}.${String(frac).padStart(width, '0')}Z`;
}

/**
 * Assemble a time from decimal parts (the `talosctl logs kernel` and Go
 * `time.String()` forms of text captures). `offset` is `Z` or ±hh:mm / ±hhmm.
 */
export function fromParts(
  year: string, month: string, day: string, hour: string, minute: string, second: string,
  fraction: string | undefined, offset: string,
): TalosTime | undefined {
  const mo = Number(month);
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  const s = Number(second);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(Number(year), mo) || h > 23 || mi > 59 || s > 60) return undefined;
  let offsetMin = 0;
  if (offset !== 'Z' && offset !== 'z') {
    const sign = offset[0] === '-' ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    if (!/^\d{4}$/.test(digits)) return undefined;
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  }
  const nine = (fraction ?? '').padEnd(9, '0');
  const ms = Date.UTC(Number(year), mo - 1, d, h, mi, s) - offsetMin * 60_000 + Number(nine.slice(0, 3));
  if (!Number.isFinite(ms)) return undefined;
  return { ms, nsRem: Number(nine.slice(3)) };
}

/** Add microseconds to a time (kernel `talos-time` = boot time + `clock` µs). */
export function addMicros(t: TalosTime, micros: number): TalosTime {
  const wholeMs = Math.floor(micros / 1000);
  let nsRem = t.nsRem + (micros - wholeMs * 1000) * 1000;
  let ms = t.ms + wholeMs;
  if (nsRem >= 1_000_000) {
    nsRem -= 1_000_000;
    ms += 1;
  }
  return { ms, nsRem };
}
