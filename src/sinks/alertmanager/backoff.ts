/**
 * Jittered exponential backoff for retrying a replica. Attempt n waits a random
 * time in [b/2, b] with b = min(max, 2·min·2ⁿ): never shorter than `minMs`,
 * never longer than `maxMs`, and jittered so many sidecars that lost the same
 * Alertmanager do not retry in lockstep.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next retry; each call escalates. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** (this.attempt + 1));
    if (this.attempt < 64) this.attempt++;
    const d = ceiling / 2 + this.random() * (ceiling / 2);
    return Math.max(this.minMs, Math.min(this.maxMs, Math.round(d)));
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
