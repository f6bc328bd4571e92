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
export class SlidingWindow {
  private readonly counts: Float64Array;
  private readonly bytes: Float64Array | undefined;
  /** Highest bucket id stored; slots hold buckets (head−N, head]. */
  private head = -Infinity;
  private totalCount = 0;
  private totalBytes = 0;

  constructor(
    /** Number of buckets N = d / g. */
    readonly slots: number,
    /** Grid step g in ms. */
    readonly stepMs: number,
    trackBytes: boolean,
  ) {
    this.counts = new Float64Array(slots);
    this.bytes = trackBytes ? new Float64Array(slots) : undefined;
  }

  /** Bucket id of an event time: smallest b with time ≤ b·g. */
  bucketOf(timeMs: number, timeNsRem: number): number {
    const half = 2 * timeMs + (timeNsRem > 0 ? 1 : 0);
    return Math.ceil(half / (2 * this.stepMs));
  }

  /**
   * Add one event. Returns false (and stores nothing) when it is older than
   * every range that can still be evaluated, i.e. at or before (head−N)·g, or
   * before `floorBucket` (the engine's last evaluated instant − d).
   */
  add(bucket: number, byteLen: number, floorBucket: number): boolean {
    if (bucket <= floorBucket || bucket <= this.head - this.slots) return false;
    if (bucket > this.head) this.advance(bucket);
    const i = mod(bucket, this.slots);
    this.counts[i]! += 1;
    this.totalCount += 1;
    if (this.bytes !== undefined) {
      this.bytes[i]! += byteLen;
      this.totalBytes += byteLen;
    }
    return true;
  }

  /** Drop buckets that have left the range ending at bucket T (T ≥ head advances the ring). */
  private advance(T: number): void {
    if (this.head === -Infinity || T - this.head >= this.slots) {
      this.counts.fill(0);
      this.bytes?.fill(0);
      this.totalCount = 0;
      this.totalBytes = 0;
    } else {
      for (let b = this.head + 1; b <= T; b++) {
        const i = mod(b, this.slots);
        this.totalCount -= this.counts[i]!;
        this.counts[i] = 0;
        if (this.bytes !== undefined) {
          this.totalBytes -= this.bytes[i]!;
          this.bytes[i] = 0;
        }
      }
    }
    this.head = T;
  }

  /**
   * Count and bytes in (t−d, t] for t = T·g. Evaluation instants only move
   * forward, so buckets that fall out are freed as we go.
   */
  query(T: number, out: { count: number; bytes: number }): void {
    if (T >= this.head) {
      this.advance(T);
      out.count = this.totalCount;
      out.bytes = this.totalBytes;
      return;
    }
    // Events ahead of the evaluation instant (sender clock ahead): sum only up to T.
    let count = 0;
    let bytes = 0;
    const lo = Math.max(T - this.slots + 1, this.head - this.slots + 1);
    for (let b = lo; b <= T; b++) {
      const i = mod(b, this.slots);
      count += this.counts[i]!;
      if (this.bytes !== undefined) bytes += this.bytes[i]!;
    }
    out.count = count;
    out.bytes = bytes;
  }

  /** True when nothing is stored (the series can be freed). */
  get empty(): boolean {
    return this.totalCount === 0;
  }

  /** Serialisable contents (for state snapshots): [bucket, count, bytes] triples. */
  entries(): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    if (this.head === -Infinity) return out;
    for (let b = this.head - this.slots + 1; b <= this.head; b++) {
      const i = mod(b, this.slots);
      if (this.counts[i]! > 0) out.push([b, this.counts[i]!, this.bytes?.[i] ?? 0]);
    }
    return out;
  }

  restore(entries: ReadonlyArray<readonly [number, number, number]>): void {
    for (const [b, c, by] of entries) {
      if (b > this.head) this.advance(b);
      if (b <= this.head - this.slots) continue;
      const i = mod(b, this.slots);
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
