/**
 * Prometheus/Loki duration strings ("1m", "1h30m", "500ms", "0s") to milliseconds.
 * Same grammar as Prometheus model.ParseDuration: units y w d h m s ms, in that
 * order, each at most once; "0" alone is allowed.
 */
const UNIT_MS: Record<string, number> = {
  y: 365 * 24 * 3600_000,
  w: 7 * 24 * 3600_000,
  d: 24 * 3600_000,
  h: 3600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
const PART = /(\d+)(ms|y|w|d|h|m|s)/y;

export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (text === '') throw new Error('empty duration string');
  let total = 0;
  let pos = 0;
  let lastUnit = -1;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (m === null) throw new Error(`not a valid duration string: "${text}"`);
    const unitIdx = ORDER.indexOf(m[2]!);
    if (unitIdx <= lastUnit) throw new Error(`not a valid duration string: "${text}"`);
    lastUnit = unitIdx;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  if (!Number.isSafeInteger(total)) throw new Error(`duration out of range: "${text}"`);
  return total;
}

/** Milliseconds back to the shortest Prometheus duration string ("5m", "1h30m", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const u of ORDER) {
    const size = UNIT_MS[u]!;
    if (rest >= size) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      out += `${n}${u}`;
    }
  }
  return out;
}
