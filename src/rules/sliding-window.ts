/**
 * Counts and bytes of one series over a range `d`, in fixed time buckets.
 *
 * The engine evaluates on a grid of step `g` (d is a multiple of g). Bucket b
 * holds events with time in ((b−1)·g, b·g], so at a grid instant t = T·g the
 * LogQL range (t−d, t] is exactly buckets T−N+1 … T (N = d/g): start
 * exclusive, end inclusive, as Loki. Memory is N slots whatever the match
 * rate; nothing is kept per line.
 *
 * Event times are compared with nanosecond precision without bigint: an event
 * at ms + ns (ns > 0) sorts strictly after ms and before ms + 1, so we key it
 * at half-millisecond resolution (2·ms + 1).
 */
/** How far ahead of the evaluation clock a line may be stamped and still be kept exactly. */
export const FUTURE_SLACK_MS = 15_000;

export class SlidingWindow {
  private readonly counts: Float64Array;
  private readonly bytes: Float64Array | undefined;
  /**
   * Ring capacity: 2N plus 15 s of buckets, so lines stamped ahead of the last
   * evaluation (sender clock ahead, within the decoder's future tolerance of
   * 10 s, clamped beyond) never push out buckets a range still needs.
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
  ) {
    this.cap = 2 * slots + Math.ceil(FUTURE_SLACK_MS / stepMs);
    this.counts = new Float64Array(this.cap);
    this.bytes = trackBytes ? new Float64Array(this.cap) : undefined;
  }

  /** Bucket id of an event time: smallest b with time ≤ b·g. */
  bucketOf(timeMs: number, timeNsRem: number): number {
    const half = 2 * timeMs + (timeNsRem > 0 ? 1 : 0);
    return Math.ceil(half / (2 * this.stepMs));
  }

  /**
   * Add one event. Returns false (and stores nothing) when no range still to
   * be evaluated can contain it: at or below `floorBucket` (the last evaluated
   * instant − N) or below what the ring still holds.
   */
  add(bucket: number, byteLen: number, floorBucket: number): boolean {
    if (bucket <= floorBucket || bucket <= this.low || bucket <= this.head - this.cap) return false;
    if (bucket > this.head) this.advance(bucket);
    const i = mod(bucket, this.cap);
    this.counts[i]! += 1;
    this.totalCount += 1;
    if (this.bytes !== undefined) {
      this.bytes[i]! += byteLen;
      this.totalBytes += byteLen;
    }
    return true;
  }

  private clearSlot(b: number): void {
    const i = mod(b, this.cap);
    this.totalCount -= this.counts[i]!;
    this.counts[i] = 0;
    if (this.bytes !== undefined) {
      this.totalBytes -= this.bytes[i]!;
      this.bytes[i] = 0;
    }
  }

  /** Move the head to bucket `to`, reusing the slots of buckets that fall off the ring. */
  private advance(to: number): void {
    if (this.head === -Infinity || to - this.head >= this.cap) {
      this.counts.fill(0);
      this.bytes?.fill(0);
      this.totalCount = 0;
      this.totalBytes = 0;
    } else {
      for (let b = this.head + 1; b <= to; b++) this.clearSlot(b);
    }
    this.head = to;
    this.low = Math.max(this.low, to - this.cap);
  }

  /** Forget buckets ≤ `upTo`: evaluation instants only move forward, so they never count again. */
  private evict(upTo: number): void {
    if (upTo <= this.low) return;
    if (this.head === -Infinity) {
      this.low = upTo;
      return;
    }
    const from = Math.max(this.low + 1, this.head - this.cap + 1);
    const to = Math.min(upTo, this.head);
    for (let b = from; b <= to; b++) this.clearSlot(b);
    this.low = upTo;
  }

  /** Count and bytes in (t−d, t] for t = T·g. */
  query(T: number, out: { count: number; bytes: number }): void {
    this.evict(T - this.slots);
    let count = this.totalCount;
    let bytes = this.totalBytes;
    if (this.head === -Infinity) {
      out.count = 0;
      out.bytes = 0;
      return;
    }
    // Lines stamped after T (sender clock ahead of ours) are stored but not yet in range.
    for (let b = Math.max(T + 1, this.head - this.cap + 1); b <= this.head; b++) {
      const i = mod(b, this.cap);
      count -= this.counts[i]!;
      if (this.bytes !== undefined) bytes -= this.bytes[i]!;
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
    return this.totalCount === 0;
  }

  /** Serialisable contents (for state snapshots): [bucket, count, bytes] triples. */
  entries(): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    if (this.head === -Infinity) return out;
    for (let b = Math.max(this.low + 1, this.head - this.cap + 1); b <= this.head; b++) {
      const i = mod(b, this.cap);
      if (this.counts[i]! > 0) out.push([b, this.counts[i]!, this.bytes?.[i] ?? 0]);
    }
    return out;
  }

  restore(entries: ReadonlyArray<readonly [number, number, number]>): void {
    for (const [b, c, by] of entries) {
      if (b > this.head) this.advance(b);
      if (b <= this.low || b <= this.head - this.cap) continue;
      const i = mod(b, this.cap);
      this.counts[i]! += c;
      this.totalCount += c;
      if (this.bytes !== undefined) {
        this.bytes[i]! += by;
        this.totalBytes += by;
      }
    }
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
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
