/**
 * Jittered exponential backoff as Loki's clients use it (dskit): the n-th
 * delay is drawn uniformly from [min·2ⁿ, min·2ⁿ⁺¹), both ends capped at max.
 * The jitter spreads the retries of many senders after a shared Loki outage.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next try; each call doubles the range until it reaches max. */
  next(): number {
    const lo = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    const hi = Math.min(this.maxMs, lo * 2);
    if (lo < this.maxMs) this.attempt++;
    return Math.floor(lo + (hi - lo) * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }
}
