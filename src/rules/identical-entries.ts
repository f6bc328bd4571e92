/**
 * Loki stores an entry once when a stream receives the same timestamp (to the
 * nanosecond) with the same line (and structured metadata) again, so counts
 * see it once. Talos re-sends its kernel ring buffer on every reconnect, so
 * byte-identical records do arrive twice; this drops the second copy before
 * it reaches any window.
 *
 * How far back Loki looks: pkg/ingester/stream.go validateEntries drops an
 * entry equal to the stream's last stored line (however old), and the
 * unordered head block (pkg/chunkenc/unordered.go Append) drops an entry
 * equal to any entry at the same nanosecond still in the head block; at
 * query time the merge iterators (pkg/iter) drop identical samples across
 * chunks and replicas. Every copy a window can still count is therefore
 * counted once by Loki. We need no longer memory than the windows: an entry
 * older than the longest history any rule keeps (range + offset + one grid
 * step) can never be counted again, so it is forgotten — exact for counting,
 * with memory bounded by the matching lines inside that horizon, and capped
 * (`maxEntries`; beyond it new entries go unrecorded and are counted in
 * `untracked`).
 *
 * Only lines that matched some rule are recorded: a copy matches exactly the
 * rules its original matched, so unmatched lines never need remembering.
 * Entries are kept as a 53-bit hash of (time, line, metadata), bucketed by
 * time epoch of the horizon's length: copies share their time, so one epoch
 * lookup is exact, and whole epochs are dropped as they age out.
 */
import type { LogEvent } from '../log-event.js';

interface StreamHistory {
  /** epoch (floor(timeMs / horizon)) → entry hashes. */
  readonly epochs: Map<number, Set<number>>;
}

export class IdenticalEntries {
  private readonly streams = new Map<string, StreamHistory>();
  private entries = 0;
  /** Copies dropped. */
  dropped = 0;
  /** Entries not recorded because the cap was reached (a later copy of them would count twice). */
  untracked = 0;

  constructor(
    /** Longest history any rule keeps, plus one grid step (ms). 0: nothing to remember. */
    private horizonMs: number,
    private readonly maxEntries = 1_000_000,
  ) {}

  /** New rules may keep a different history; entries already held stay valid. */
  setHorizon(ms: number): void {
    if (ms !== this.horizonMs) {
      this.horizonMs = ms;
      this.streams.clear();
      this.entries = 0;
    }
  }

  get size(): number {
    return this.entries;
  }

  /** Estimated bytes held (a Set entry of a small integer costs about 40 bytes in V8). */
  get memoryBytes(): number {
    return this.entries * 40 + this.streams.size * 200;
  }

  /**
   * True when `ev` is a copy of an entry already seen (drop it); otherwise
   * records it and returns false. `nowMs` is the engine clock.
   */
  isCopy(ev: LogEvent, nowMs: number): boolean {
    const h = this.horizonMs;
    if (h <= 0) return false;
    // Too old for any window: it will not be counted, no need to remember it.
    if (ev.timeMs <= nowMs - h) return false;
    const epoch = Math.floor(ev.timeMs / h);
    let s = this.streams.get(ev.stream.key);
    if (s === undefined) {
      s = { epochs: new Map() };
      this.streams.set(ev.stream.key, s);
    }
    let set = s.epochs.get(epoch);
    const hash = entryHash(ev);
    if (set !== undefined && set.has(hash)) {
      this.dropped++;
      return true;
    }
    if (this.entries >= this.maxEntries) {
      this.sweep(nowMs);
      if (this.entries >= this.maxEntries) {
        this.untracked++;
        return false;
      }
    }
    if (set === undefined) {
      this.expire(s, nowMs);
      set = new Set();
      s.epochs.set(epoch, set);
    }
    set.add(hash);
    this.entries++;
    return false;
  }

  /** Drop epochs wholly older than the horizon, and streams left empty (call on the timer). */
  sweep(nowMs: number): void {
    for (const [key, s] of this.streams) {
      this.expire(s, nowMs);
      if (s.epochs.size === 0) this.streams.delete(key);
    }
  }

  private expire(s: StreamHistory, nowMs: number): void {
    const h = this.horizonMs;
    for (const [epoch, set] of s.epochs) {
      if ((epoch + 1) * h <= nowMs - h) {
        this.entries -= set.size;
        s.epochs.delete(epoch);
      }
    }
  }
}

/**
 * 53-bit hash of an entry's identity: two 32-bit FNV-1a variants over the
 * time, the line's UTF-16 code units and the metadata, combined. A false
 * "copy" needs a collision between two entries of one stream in one epoch:
 * about n²/2⁵⁴ for n entries, negligible.
 */
// Hash state kept at module level so hashing a line allocates nothing.
let ha = 0;
let hb = 0;

function mix(c: number): void {
  ha = Math.imul(ha ^ c, 0x01000193);
  hb = Math.imul(hb ^ c, 0x5bd1e995) ^ (hb >>> 15);
}

function mixString(s: string): void {
  for (let i = 0; i < s.length; i++) mix(s.charCodeAt(i));
  mix(0xffff); // separator: no UTF-16 string ends a field with it
}

function entryHash(ev: LogEvent): number {
  ha = 0x811c9dc5;
  hb = 0x01000193 ^ 0x5bd1e995;
  mix(ev.timeMs % 0x10000);
  mix(Math.floor(ev.timeMs / 0x10000) % 0x10000);
  mix(Math.floor(ev.timeMs / 0x100000000));
  mix(ev.timeNsRem % 0x10000);
  mix(Math.floor(ev.timeNsRem / 0x10000));
  mixString(ev.line);
  if (ev.metadata !== undefined) {
    for (const k in ev.metadata) {
      mixString(k);
      mixString(ev.metadata[k]!);
    }
  }
  return (ha >>> 0) * 0x200000 + ((hb >>> 0) & 0x1fffff);
}
