/**
 * "Logged once per interval": the first occurrence of a key is logged at
 * once, later ones at most once per interval with how many were folded in,
 * so a Loki refusing every push cannot flood the sidecar's own log.
 */
export class LogLimiter {
  private readonly seen = new Map<string, { last: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns the number of suppressed occurrences to report when `key` should be logged now, else undefined. */
  take(key: string): number | undefined {
    const t = this.now();
    const s = this.seen.get(key);
    if (s === undefined) {
      if (this.seen.size > 256) this.seen.clear(); // keys are causes, not data; never grows without bound
      this.seen.set(key, { last: t, suppressed: 0 });
      return 0;
    }
    if (t - s.last >= this.intervalMs) {
      const n = s.suppressed;
      s.last = t;
      s.suppressed = 0;
      return n;
    }
    s.suppressed++;
    return undefined;
  }
}
