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
 * Entries are kept as a 60-bit hash of (time, line, metadata), bucketed by
 * time epoch of the horizon's length: copies share their time, so one epoch
 * lookup is exact, and whole epochs are dropped as they age out.
 */
import type { LogEvent } from '../log-event.js';

/**
 * Entries of one epoch: first 30-bit hash → second 30-bit hash (or several,
 * when first hashes collide). Both halves are small integers, which V8 keeps
 * unboxed: no allocation per entry beyond the map slot.
 */
type EpochEntries = Map<number, number | number[]>;

interface StreamHistory {
  /** epoch (floor(timeMs / horizon)) → entries. */
  readonly epochs: Map<number, EpochEntries>;
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

  /**
   * New rules may keep a different history. Epochs are keyed by the horizon, so a
   * change starts over (a copy of a line counted before such a reload may count again).
   */
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

  /** Estimated bytes held (a Map entry of small integers costs about 40 bytes in V8). */
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
    entryHash(ev);
    const h1 = H[0]! & 0x3fffffff;
    const h2 = H[1]! & 0x3fffffff;
    const held = set?.get(h1);
    if (held !== undefined && (held === h2 || (Array.isArray(held) && held.includes(h2)))) {
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
      set = new Map();
      s.epochs.set(epoch, set);
    }
    if (held === undefined) set.set(h1, h2);
    else if (Array.isArray(held)) held.push(h2);
    else set.set(h1, [held, h2]);
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
        for (const v of set.values()) this.entries -= Array.isArray(v) ? v.length : 1;
        s.epochs.delete(epoch);
      }
    }
  }
}

/**
 * 60-bit hash of an entry's identity: two 32-bit FNV-1a variants over the
 * time, the line's UTF-16 code units and the metadata, 30 bits of each kept.
 * A false "copy" needs both halves of two entries of one stream in one epoch
 * to collide: about n²/2⁶¹ for n entries, negligible.
 */
// Hash state in a typed array: int32 stores, so hashing a line allocates nothing
// (module-level `let`s would box every value outside the small-integer range).
const H = new Int32Array(2);

function mix(c: number): void {
  H[0] = Math.imul(H[0]! ^ c, 0x01000193);
  const b = H[1]!;
  H[1] = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
}

function mixString(s: string): void {
  for (let i = 0; i < s.length; i++) mix(s.charCodeAt(i));
  mix(0xffff); // separator: no UTF-16 string ends a field with it
}

/** Hashes an entry's identity into H[0], H[1]. */
function entryHash(ev: LogEvent): void {
  H[0] = 0x811c9dc5;
  H[1] = 0x01000193 ^ 0x5bd1e995;
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
}
