/**
 * Jittered exponential backoff for both sinks, as Loki's clients (dskit) do
 * it: the n-th delay is drawn uniformly from [min·2ⁿ, min·2ⁿ⁺¹), both ends
 * capped at max. Never shorter than min; the jitter keeps many sidecars that
 * lost the same Alertmanager or Loki from retrying in lockstep.
 */
export class Backoff {
  private attempt = 0;
  private tries = 0;

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
    this.tries++;
    return Math.floor(lo + (hi - lo) * this.random());
  }

  /** Delays handed out since the last reset (failures since the last success). */
  get failures(): number {
    return this.tries;
  }

  reset(): void {
    this.attempt = 0;
    this.tries = 0;
  }
}
