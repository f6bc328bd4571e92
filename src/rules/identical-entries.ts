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
 * Entries are kept as a 64-bit hash of (stream, time, line, metadata), in one
 * set per time epoch of the horizon's length: copies share their time, so one
 * epoch lookup is exact, and whole epochs are dropped as they age out.
 *
 * Memory: the sets are open-addressing tables in typed arrays (8 bytes a slot,
 * at most half full), outside the JS heap. The matched lines inside the
 * horizon grow with the match rate, so a Map per stream and epoch (a slot
 * object per entry, rehash copies promoted to the old generation) made the
 * process grow with the match rate; a table costs at most 16 bytes an entry
 * and nothing for the garbage collector to trace.
 */
import type { LogEvent } from '../log-event.js';

/** Slots a new epoch starts with (it doubles at half full). */
const INITIAL_SLOTS = 1024;

/** One epoch's entries: a set of 64-bit hashes, two int32 per slot, (0, 0) marking an empty slot. */
class EpochSet {
  private slots = new Int32Array(2 * INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  count = 0;

  get bytes(): number {
    return this.slots.byteLength;
  }

  has(a: number, b: number): boolean {
    const { slots, mask } = this;
    for (let i = slotOf(a, b, mask); ; i = (i + 1) & mask) {
      const x = slots[2 * i]!;
      const y = slots[2 * i + 1]!;
      if (x === a && y === b) return true;
      if (x === 0 && y === 0) return false;
    }
  }

  /** Adds (a, b), known to be absent. */
  add(a: number, b: number): void {
    if (2 * (this.count + 1) > this.mask + 1) this.grow();
    this.put(a, b);
    this.count++;
  }

  private put(a: number, b: number): void {
    const { slots, mask } = this;
    let i = slotOf(a, b, mask);
    while (slots[2 * i] !== 0 || slots[2 * i + 1] !== 0) i = (i + 1) & mask;
    slots[2 * i] = a;
    slots[2 * i + 1] = b;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = old.length - 1; // old.length / 2 slots before, twice that now
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.put(old[i]!, old[i + 1]!);
  }
}

function slotOf(a: number, b: number, mask: number): number {
  return (a ^ Math.imul(b, 0x9e3779b1)) & mask;
}

export class IdenticalEntries {
  /** epoch (floor(timeMs / horizon)) → entries of every stream. */
  private readonly epochs = new Map<number, EpochSet>();
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
      this.epochs.clear();
      this.entries = 0;
    }
  }

  get size(): number {
    return this.entries;
  }

  /** Bytes held by the tables. */
  get memoryBytes(): number {
    let n = 0;
    for (const set of this.epochs.values()) n += set.bytes;
    return n;
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
    let set = this.epochs.get(epoch);
    entryHash(ev);
    const a = H[0]!;
    // (0, 0) marks an empty slot: that one hash in 2⁶⁴ is stored as (0, 1).
    const b = a === 0 && H[1] === 0 ? 1 : H[1]!;
    if (set !== undefined && set.has(a, b)) {
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
      this.sweep(nowMs);
      set = new EpochSet();
      this.epochs.set(epoch, set);
    }
    set.add(a, b);
    this.entries++;
    return false;
  }

  /** Drop epochs wholly older than the horizon (call on the timer). */
  sweep(nowMs: number): void {
    const h = this.horizonMs;
    for (const [epoch, set] of this.epochs) {
      if ((epoch + 1) * h <= nowMs - h) {
        this.entries -= set.count;
        this.epochs.delete(epoch);
      }
    }
  }
}

/**
 * 64-bit hash of an entry's identity: two 32-bit FNV-1a variants over the
 * stream key, the time, the line's UTF-16 code units and the metadata. A
 * false "copy" needs both halves of two entries in one epoch to collide:
 * about n²/2⁶⁵ for n entries (10⁻⁸ at the 1 M cap), negligible.
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
  mixString(ev.stream.key);
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
