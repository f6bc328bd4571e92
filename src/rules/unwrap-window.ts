/**
 * Unwrapped sample values of one series over a range `d`, on the engine's
 * grid (see sliding-window.ts: bucket b holds times in ((b−1)·g, b·g], so
 * the range (t−d, t] at t = T·g is buckets T−N+1 … T, start exclusive, end
 * inclusive, as Loki).
 *
 * Per bucket it keeps what is exact to combine: count, sum, min, max, and
 * the first and last sample by time (first/last_over_time). Only functions
 * that need every value (quantile, stdvar, stddev, rate_counter) keep the
 * samples, time-ordered, at most `maxSamples` per series; beyond that new
 * samples are refused and counted (the caller reports them).
 */

/** Default cap on kept samples per series (quantile/stdvar/stddev/rate_counter). */
export const MAX_SAMPLES_PER_SERIES = 20_000;

interface Bucket {
  count: number;
  sum: number;
  min: number;
  max: number;
  firstMs: number;
  firstNs: number;
  first: number;
  lastMs: number;
  lastNs: number;
  last: number;
  /** Time-ordered samples (only when the function needs them). */
  ms: number[] | undefined;
  ns: number[] | undefined;
  vs: number[] | undefined;
}

export interface WindowSummary {
  count: number;
  sum: number;
  min: number;
  max: number;
  first: number;
  last: number;
}

function before(ams: number, ans: number, bms: number, bns: number): boolean {
  return ams < bms || (ams === bms && ans < bns);
}

export class UnwrapWindow {
  /** Bucket ids ascending. */
  private ids: number[] = [];
  private readonly buckets = new Map<number, Bucket>();
  private low = -Infinity;
  private samples = 0;

  constructor(
    readonly slots: number,
    readonly stepMs: number,
    private readonly keepSamples: boolean,
    private readonly maxSamples = MAX_SAMPLES_PER_SERIES,
  ) {}

  bucketOf(timeMs: number, timeNsRem: number): number {
    const half = 2 * timeMs + (timeNsRem > 0 ? 1 : 0);
    return Math.ceil(half / (2 * this.stepMs));
  }

  /** 'ok', 'old' (no range still to be evaluated contains it) or 'full' (sample cap reached). */
  add(bucket: number, timeMs: number, timeNsRem: number, v: number, floorBucket: number): 'ok' | 'old' | 'full' {
    if (bucket <= floorBucket || bucket <= this.low) return 'old';
    if (this.keepSamples && this.samples >= this.maxSamples) return 'full';
    let b = this.buckets.get(bucket);
    if (b === undefined) {
      b = {
        count: 0, sum: 0, min: NaN, max: NaN,
        firstMs: timeMs, firstNs: timeNsRem, first: v, lastMs: timeMs, lastNs: timeNsRem, last: v,
        ms: this.keepSamples ? [] : undefined, ns: this.keepSamples ? [] : undefined, vs: this.keepSamples ? [] : undefined,
      };
      this.buckets.set(bucket, b);
      const ids = this.ids;
      if (ids.length === 0 || ids[ids.length - 1]! < bucket) ids.push(bucket);
      else {
        let i = ids.length - 1;
        while (i >= 0 && ids[i]! > bucket) i--;
        ids.splice(i + 1, 0, bucket);
      }
    }
    // min/max as Loki's min/max_over_time: a NaN is replaced by the next value.
    if (b.count === 0 || v < b.min || Number.isNaN(b.min)) b.min = v;
    if (b.count === 0 || v > b.max || Number.isNaN(b.max)) b.max = v;
    b.count++;
    b.sum += v;
    if (before(timeMs, timeNsRem, b.firstMs, b.firstNs)) {
      b.firstMs = timeMs;
      b.firstNs = timeNsRem;
      b.first = v;
    }
    if (!before(timeMs, timeNsRem, b.lastMs, b.lastNs)) {
      b.lastMs = timeMs;
      b.lastNs = timeNsRem;
      b.last = v;
    }
    if (b.ms !== undefined) {
      // Equal times keep arrival order (after the others).
      let i = b.ms.length;
      while (i > 0 && before(timeMs, timeNsRem, b.ms[i - 1]!, b.ns![i - 1]!)) i--;
      b.ms.splice(i, 0, timeMs);
      b.ns!.splice(i, 0, timeNsRem);
      b.vs!.splice(i, 0, v);
      this.samples++;
    }
    return 'ok';
  }

  private evict(upTo: number): void {
    if (upTo <= this.low) return;
    this.low = upTo;
    let k = 0;
    while (k < this.ids.length && this.ids[k]! <= upTo) {
      const b = this.buckets.get(this.ids[k]!)!;
      if (b.vs !== undefined) this.samples -= b.vs.length;
      this.buckets.delete(this.ids[k]!);
      k++;
    }
    if (k > 0) this.ids = this.ids.slice(k);
  }

  /** Summary of (t−d, t]; count 0 when empty. */
  summary(T: number, out: WindowSummary): void {
    this.evict(T - this.slots);
    out.count = 0;
    out.sum = 0;
    out.min = NaN;
    out.max = NaN;
    out.first = NaN;
    out.last = NaN;
    for (const id of this.ids) {
      if (id > T) break;
      const b = this.buckets.get(id)!;
      // Loki folds min/max over samples in time order; buckets are in time order too.
      if (out.count === 0) {
        out.min = b.min;
        out.max = b.max;
        out.first = b.first;
      } else {
        if (b.min < out.min || Number.isNaN(out.min)) out.min = b.min;
        if (b.max > out.max || Number.isNaN(out.max)) out.max = b.max;
      }
      out.count += b.count;
      out.sum += b.sum;
      out.last = b.last;
    }
  }

  /** The samples of (t−d, t] in time order (only with keepSamples). Times as ms (fractional). */
  samplesIn(T: number): { ts: number[]; vs: number[] } {
    this.evict(T - this.slots);
    const ts: number[] = [];
    const vs: number[] = [];
    for (const id of this.ids) {
      if (id > T) break;
      const b = this.buckets.get(id)!;
      for (let i = 0; i < b.vs!.length; i++) {
        ts.push(b.ms![i]! + b.ns![i]! / 1e6);
        vs.push(b.vs![i]!);
      }
    }
    return { ts, vs };
  }

  get empty(): boolean {
    return this.ids.length === 0;
  }
}
