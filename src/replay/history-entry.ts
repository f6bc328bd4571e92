/**
 * One log entry as Loki returns it from a log query, mapped back to the
 * LogEvent the sidecar decoded when the line arrived: the stream labels
 * (job, host, talos_service, level and any configured extras) come straight
 * from Loki's stream; the line is the stored line. Structured metadata, when
 * Loki returns it separately (`categorize-labels`), becomes the event's
 * metadata again; parsed labels are never requested (no parser is pushed down).
 */
import type { LabelSet, LogEvent } from '../log-event.js';

export interface HistoryEntry {
  /** Unix ms of the entry's nanosecond timestamp. */
  readonly ms: number;
  /** Sub-millisecond remainder, 0..999 999 ns. */
  readonly nsRem: number;
  /** The timestamp as Loki wrote it (decimal ns), for paging. */
  readonly ns: string;
  readonly stream: LabelSet;
  readonly line: string;
  readonly metadata: Readonly<Record<string, string>> | undefined;
}

/** Splits Loki's decimal nanoseconds without losing precision (ns since 1970 exceed 2^53). */
export function splitNs(ns: string): { ms: number; nsRem: number } | undefined {
  if (!/^\d{1,19}$/.test(ns)) return undefined;
  const padded = ns.padStart(7, '0');
  return { ms: Number(padded.slice(0, -6)), nsRem: Number(padded.slice(-6)) };
}

export function nsOfMs(ms: number): bigint {
  return BigInt(Math.floor(ms)) * 1_000_000n;
}

export function compareEntries(a: HistoryEntry, b: HistoryEntry): number {
  return a.ms - b.ms || a.nsRem - b.nsRem;
}

/** Identity of an entry within its timestamp: Loki keeps one entry per stream, timestamp and line. */
export function entryIdentity(e: HistoryEntry): string {
  return `${e.stream.key}\u0000${e.line}`;
}

export function toLogEvent(e: HistoryEntry): LogEvent {
  return {
    timeMs: e.ms,
    timeNsRem: e.nsRem,
    receivedMs: e.ms,
    line: e.line,
    stream: e.stream,
    metadata: e.metadata,
    // The decoder labels kernel records talos_service="kernel".
    source: e.stream.labels.talos_service === 'kernel' ? 'kernel' : 'service',
  };
}
