/**
 * Counts and bytes of one series over a range `d`, in fixed time buckets.
 *
 * The engine evaluates on a grid of step `g` (d is a multiple of g). Bucket b
 * holds events with time in ((b−1)·g, b·g], so at a grid instant t = T·g the
 * LogQL range (t−d, t] is exactly buckets T−N+1 … T (N = d/g): start
 * exclusive, end inclusive, as Loki. Nothing is kept per line.
 *
 * Storage is sparse: only buckets that hold something, as (bucket, count[,
 * bytes]) runs in one Float64Array sorted by bucket, grown and shrunk by
 * halves. A stream that sent one line costs one entry (tens of bytes), not a
 * ring of N slots (a 5m window was 615 doubles, 4.9 KB, per series — the bulk
 * of the 8.5 KB per series a label-inventing sender could make us hold); a
 * busy stream costs at most the ring it used to (bucket ids are at most `cap`
 * apart).
 *
 * Event times are compared with nanosecond precision without bigint: an event
 * at ms + ns (ns > 0) sorts strictly after ms and before ms + 1, so we key it
 * at half-millisecond resolution (2·ms + 1).
 */
/** How far ahead of the evaluation clock a line may be stamped and still be kept exactly. */
export const FUTURE_SLACK_MS = 15_000;

/** Running total of the memory held by windows (shared by every rule: the global window budget). */
export interface WindowMeter {
  bytes: number;
}

/** V8's cost of a window besides its entries: the object, the typed array and its buffer. */
const WINDOW_OVERHEAD_BYTES = 200;
const MIN_ENTRIES = 2;

export class SlidingWindow {
  /** Entries [bucket, count(, bytes)] × len, from `start`, sorted by bucket. */
  private buf: Float64Array;
  private start = 0;
  private len = 0;
  private readonly stride: number;
  /**
   * Bucket span kept: 2N plus 15 s of buckets, so lines stamped ahead of the
   * last evaluation (sender clock ahead, within the decoder's future tolerance
   * of 10 s, clamped beyond) never push out buckets a range still needs.
   */
  private readonly cap: number;
  /** Highest bucket id stored. */
  private head = -Infinity;
  /** Buckets at or below this id are gone for good (left every range still to be evaluated). */
  private low = -Infinity;
  private totalCount = 0;
  private totalBytes = 0;

  constructor(
    /** Number of buckets N = d / g. */
    readonly slots: number,
    /** Grid step g in ms. */
    readonly stepMs: number,
    trackBytes: boolean,
    private readonly meter?: WindowMeter,
  ) {
    this.cap = 2 * slots + Math.ceil(FUTURE_SLACK_MS / stepMs);
    this.stride = trackBytes ? 3 : 2;
    this.buf = new Float64Array(MIN_ENTRIES * this.stride);
    if (meter !== undefined) meter.bytes += this.memoryBytes;
  }

  /** Estimated bytes held (what the window budget counts). */
  get memoryBytes(): number {
    return WINDOW_OVERHEAD_BYTES + this.buf.byteLength;
  }

  /** Give the memory back to the meter; the window must not be used afterwards. */
  release(): void {
    if (this.meter !== undefined) this.meter.bytes -= this.memoryBytes;
  }

  /** Bucket id of an event time: smallest b with time ≤ b·g. */
  bucketOf(timeMs: number, timeNsRem: number): number {
    return bucketOf(timeMs, timeNsRem, this.stepMs);
  }

  /**
   * Add one event. Returns false (and stores nothing) when no range still to
   * be evaluated can contain it: at or below `floorBucket` (the last evaluated
   * instant − N) or below what the window still holds.
   */
  add(bucket: number, byteLen: number, floorBucket: number): boolean {
    if (bucket <= floorBucket || bucket <= this.low || bucket <= this.head - this.cap) return false;
    if (bucket > this.head) {
      this.head = bucket;
      this.low = Math.max(this.low, bucket - this.cap);
      this.dropUpTo(this.low);
    }
    const s = this.stride;
    const buf = this.buf;
    // Lines arrive nearly in time order: the last entry or a new one after it.
    let i = this.start + this.len - 1;
    while (i >= this.start && buf[i * s]! > bucket) i--;
    if (i >= this.start && buf[i * s] === bucket) {
      buf[i * s + 1]! += 1;
      if (s === 3) buf[i * s + 2]! += byteLen;
    } else {
      this.insertAt(i + 1, bucket, byteLen);
    }
    this.totalCount += 1;
    if (s === 3) this.totalBytes += byteLen;
    return true;
  }

  /** Insert a new entry at absolute index `at` (start ≤ at ≤ start+len). */
  private insertAt(at: number, bucket: number, byteLen: number): void {
    const s = this.stride;
    const end = this.start + this.len;
    if (end * s >= this.buf.length) {
      // Full at the back: reuse the free front, or double.
      const entries = this.buf.length / s;
      const need = this.len + 1;
      const next = need > entries / 2 ? entries * 2 : entries;
      at -= this.start;
      this.resize(next);
    }
    const buf = this.buf;
    const e = this.start + this.len;
    if (at < e) buf.copyWithin((at + 1) * s, at * s, e * s);
    buf[at * s] = bucket;
    buf[at * s + 1] = 1;
    if (s === 3) buf[at * s + 2] = byteLen;
    this.len++;
  }

  /** Move the entries to the front of a buffer of `entries` entries. */
  private resize(entries: number): void {
    const s = this.stride;
    const before = this.memoryBytes;
    const next = entries * s === this.buf.length ? this.buf : new Float64Array(entries * s);
    if (next === this.buf) this.buf.copyWithin(0, this.start * s, (this.start + this.len) * s);
    else next.set(this.buf.subarray(this.start * s, (this.start + this.len) * s));
    this.buf = next;
    this.start = 0;
    if (this.meter !== undefined) this.meter.bytes += this.memoryBytes - before;
  }

  /** Remove entries with bucket ≤ upTo from the front; shrink when mostly empty. */
  private dropUpTo(upTo: number): void {
    const s = this.stride;
    const buf = this.buf;
    while (this.len > 0 && buf[this.start * s]! <= upTo) {
      this.totalCount -= buf[this.start * s + 1]!;
      if (s === 3) this.totalBytes -= buf[this.start * s + 2]!;
      this.start++;
      this.len--;
    }
    if (this.len === 0) {
      this.start = 0;
      this.totalCount = 0;
      this.totalBytes = 0;
    }
    // Give memory back when a busy stream goes quiet: halve while under a quarter used.
    let entries = buf.length / s;
    while (entries > MIN_ENTRIES && this.len < entries / 4) entries >>>= 1;
    if (entries * s !== buf.length) this.resize(Math.max(MIN_ENTRIES, entries));
  }

  /** Forget buckets ≤ `upTo`: evaluation instants only move forward, so they never count again. */
  private evict(upTo: number): void {
    if (upTo <= this.low) return;
    this.low = upTo;
    this.dropUpTo(upTo);
  }

  /** Count and bytes in (t−d, t] for t = T·g. */
  query(T: number, out: { count: number; bytes: number }): void {
    this.evict(T - this.slots);
    let count = this.totalCount;
    let bytes = this.totalBytes;
    // Lines stamped after T (sender clock ahead of ours) are stored but not yet in range.
    const s = this.stride;
    const buf = this.buf;
    for (let i = this.start + this.len - 1; i >= this.start && buf[i * s]! > T; i--) {
      count -= buf[i * s + 1]!;
      if (s === 3) bytes -= buf[i * s + 2]!;
    }
    out.count = count;
    out.bytes = bytes;
  }

  /**
   * Count and bytes in (t−o−d, t−o] for t = T·g, o = offsetSlots·g and
   * d = rangeSlots·g (the `offset` modifier). The window must have been made
   * with slots ≥ offsetSlots + rangeSlots so that history is kept.
   */
  queryOffset(T: number, offsetSlots: number, rangeSlots: number, out: { count: number; bytes: number }): void {
    if (offsetSlots === 0) {
      this.query(T, out);
      return;
    }
    this.evict(T - this.slots);
    const lo = T - offsetSlots - rangeSlots;
    const hi = T - offsetSlots;
    const s = this.stride;
    const buf = this.buf;
    let count = 0;
    let bytes = 0;
    for (let i = this.start; i < this.start + this.len; i++) {
      const b = buf[i * s]!;
      if (b <= lo) continue;
      if (b > hi) break;
      count += buf[i * s + 1]!;
      if (s === 3) bytes += buf[i * s + 2]!;
    }
    out.count = count;
    out.bytes = bytes;
  }

  /** Slots the ring holds (its memory: 8 bytes each, twice when bytes are tracked). */
  get capacity(): number {
    return this.cap;
  }

  /** True when nothing is stored (the series can be freed). */
  get empty(): boolean {
    return this.len === 0;
  }

  /** Serialisable contents (for state snapshots): [bucket, count, bytes] triples. */
  entries(): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    const s = this.stride;
    for (let i = this.start; i < this.start + this.len; i++) out.push([this.buf[i * s]!, this.buf[i * s + 1]!, s === 3 ? this.buf[i * s + 2]! : 0]);
    return out;
  }

  restore(entries: ReadonlyArray<readonly [number, number, number]>): void {
    for (const [b, c, by] of entries) {
      if (c <= 0 || !Number.isInteger(b)) continue;
      if (!this.add(b, by, -Infinity)) continue;
      // add() counted one line of `by` bytes; make it c lines.
      const s = this.stride;
      let i = this.start + this.len - 1;
      while (this.buf[i * s] !== b) i--;
      this.buf[i * s + 1]! += c - 1;
      this.totalCount += c - 1;
    }
  }
}

/** Bucket id of an event time on a grid of `stepMs`: smallest b with time ≤ b·g. */
export function bucketOf(timeMs: number, timeNsRem: number, stepMs: number): number {
  const half = 2 * timeMs + (timeNsRem > 0 ? 1 : 0);
  return Math.ceil(half / (2 * stepMs));
}

/**
 * Grid step for a range: the evaluation resolution. 1 s for ranges from 10 s to
 * 1 h (300 buckets for 5m); finer for short ranges; coarser for long ones so a
 * series never holds more than 3600 buckets. Always divides d.
 */
export function gridStepFor(rangeMs: number): number {
  if (rangeMs >= 10_000 && rangeMs % 1000 === 0 && rangeMs / 1000 <= 3600) return 1000;
  if (rangeMs > 3_600_000) {
    for (let g = Math.ceil(rangeMs / 3600); g <= rangeMs; g++) if (rangeMs % g === 0) return g;
  }
  for (const g of [500, 250, 200, 100, 50, 20, 10, 5, 2]) if (rangeMs % g === 0 && rangeMs / g >= 10) return g;
  return 1;
}

/** Longest window history (range + offset) kept per series, in buckets. */
export const MAX_SLOTS = 3600;

/**
 * Grid step for a range with an `offset`: it must divide both the range and
 * the offset (so both are whole buckets), and the history kept (range +
 * offset) stays within MAX_SLOTS buckets, so a long offset means a coarser
 * grid. Returns undefined when no such step exists (e.g. a 5m range with a
 * 1d+1ms offset).
 */
export function gridStepForOffset(rangeMs: number, offsetMs: number): number | undefined {
  const base = gridStepFor(rangeMs);
  if (offsetMs === 0) return base;
  const g0 = gcd(rangeMs, offsetMs);
  const lower = Math.max(1, Math.ceil((rangeMs + offsetMs) / MAX_SLOTS));
  if (offsetMs % base === 0 && base >= lower) return base;
  let best: number | undefined;
  for (let i = 1; i * i <= g0; i++) {
    if (g0 % i !== 0) continue;
    for (const d of [i, g0 / i]) if (d >= lower && (best === undefined || d < best)) best = d;
  }
  return best;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
