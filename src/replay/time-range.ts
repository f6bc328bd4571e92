/**
 * The history range of `replay --loki-url`: `--since DUR` (ending now) or
 * `--from T [--to T]`. Times are read as Loki reads start/end
 * (grafana/loki pkg/loghttp/params.go parseTimestamp): a number with a dot is
 * float seconds, an integer of up to 10 digits is seconds, a longer one
 * nanoseconds, anything else RFC 3339.
 */
import { parseDuration } from '../config/duration.js';

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export function parseTimeArg(value: string, flag: string): number {
  if (value.includes('.') && /^\d+\.\d*$/.test(value)) return Math.round(Number(value) * 1000);
  if (/^\d+$/.test(value)) return value.length <= 10 ? Number(value) * 1000 : Number(BigInt(value) / 1_000_000n);
  // RFC 3339 with a zone (Date.parse alone would read a zone-less time as local).
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new Error(`${flag}: expected RFC 3339 (2026-01-01T00:00:00Z) or a Unix time, got ${JSON.stringify(value)}`);
}

export function resolveTimeRange(o: { since?: string; from?: string; to?: string }, nowMs: number): TimeRange {
  if (o.since !== undefined && o.from !== undefined) throw new Error('--since and --from exclude each other');
  const toMs = o.to !== undefined ? parseTimeArg(o.to, '--to') : nowMs;
  let fromMs: number;
  if (o.from !== undefined) fromMs = parseTimeArg(o.from, '--from');
  else {
    let span: number;
    try {
      span = parseDuration(o.since ?? '1h');
    } catch (e) {
      throw new Error(`--since: ${(e as Error).message}`);
    }
    fromMs = toMs - span;
  }
  if (!(fromMs < toMs)) throw new Error(`empty time range: ${new Date(fromMs).toISOString()} is not before ${new Date(toMs).toISOString()}`);
  return { fromMs, toMs };
}
