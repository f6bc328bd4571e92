/**
 * A Prometheus counter whose values live in plain numbers on a hot path
 * (lines, bytes, matches) and reach prom-client only when /metrics is
 * scraped. `totals()` yields running totals by label set; entries with the
 * same labels are summed. The counter is advanced by what changed since the
 * last scrape; a total that went down (its owner was replaced) is a reset.
 */
import { Counter, type Registry } from 'prom-client';

export type Totals = Iterable<readonly [Readonly<Record<string, string>>, number]>;

export interface TotalsCounterOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  totals: () => Totals;
}

export class TotalsCounter {
  private readonly counter: Counter;
  private readonly reported = new Map<string, number>();
  private readonly labelNames: readonly string[];

  constructor(registry: Registry, opts: TotalsCounterOptions) {
    this.labelNames = opts.labelNames ?? [];
    const self = this;
    this.counter = new Counter({
      name: opts.name,
      help: opts.help,
      labelNames: this.labelNames,
      registers: [registry],
      collect() {
        self.collect(opts.totals());
      },
    });
  }

  private key(labels: Readonly<Record<string, string>>): string {
    return this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
  }

  private collect(totals: Totals): void {
    const now = new Map<string, { labels: Readonly<Record<string, string>>; total: number }>();
    for (const [labels, n] of totals) {
      const k = this.key(labels);
      const e = now.get(k);
      if (e === undefined) now.set(k, { labels, total: n });
      else e.total += n;
    }
    for (const [k, { labels, total }] of now) {
      const done = this.reported.get(k) ?? 0;
      if (total < done) {
        this.counter.remove(labels);
        this.counter.inc(labels, total);
      } else {
        this.counter.inc(labels, total - done);
      }
      this.reported.set(k, total);
    }
  }

  /** Drop a label set (its owner is gone); a later total for it starts from zero. */
  forget(labels: Readonly<Record<string, string>>): void {
    this.counter.remove(labels);
    this.reported.delete(this.key(labels));
  }
}
