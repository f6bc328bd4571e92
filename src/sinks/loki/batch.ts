/**
 * The batch being filled: events grouped by stream in arrival order. It keeps
 * references to the LogEvents (no copy, no per-line allocation beyond the
 * array slot) until the batch is sealed and encoded.
 */
import type { LabelSet, LogEvent } from '../../log-event.js';
import type { WalPos } from './wal.js';

export interface StreamEvents {
  readonly stream: LabelSet;
  readonly events: LogEvent[];
}

/** Per-entry framing that Loki counts on top of the line (timestamp, field tags). */
const ENTRY_OVERHEAD_BYTES = 16;

export class OpenBatch {
  readonly streams = new Map<string, StreamEvents>();
  lines = 0;
  /** Approximate payload size: line and metadata characters plus framing. Drives `batchBytes`. */
  bytes = 0;

  /** The write-ahead log position after the last event added (with a log). */
  walEnd: WalPos | undefined;

  constructor(private readonly withMetadata: boolean = true) {}

  add(ev: LogEvent): void {
    const key = ev.stream.key;
    let s = this.streams.get(key);
    if (s === undefined) {
      s = { stream: ev.stream, events: [] };
      this.streams.set(key, s);
      this.bytes += key.length;
    }
    s.events.push(ev);
    this.lines++;
    let size = ev.line.length + ENTRY_OVERHEAD_BYTES;
    const md = ev.metadata;
    if (this.withMetadata && md !== undefined) for (const k in md) size += k.length + md[k]!.length + 4;
    this.bytes += size;
  }
}
