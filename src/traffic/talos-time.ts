/**
 * `talos-time`: Go's time.RFC3339Nano in UTC — 0 to 9 fractional digits with
 * trailing zeros trimmed, no dot when the fraction is zero, always `Z`.
 * Times are carried as whole epoch milliseconds plus a 0..999 999 ns remainder
 * (the same split LogEvent uses) so nanosecond precision survives.
 */

export interface TalosTime {
  /** Whole milliseconds since the Unix epoch. */
  ms: number;
  /** Sub-millisecond remainder, 0..999 999 ns. */
  nsRem: number;
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

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Parse an RFC 3339 timestamp with up to 9 fractional digits and any offset.
 * Returns undefined when the text is not one (callers report the line).
 */
export function parseRfc3339(text: string): TalosTime | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  return fromParts(m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7], m[8]!);
}

/**
 * Assemble a time from decimal parts (shared by the RFC 3339 parser and the
 * `talosctl logs kernel` / Go `time.String()` forms). `offset` is `Z` or ±hh:mm / ±hhmm.
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
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
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
