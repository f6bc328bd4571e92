/**
 * The Loki thread's metrics, served by the ingest thread's registry: one
 * stand-in per metric whose `get()` asks the Loki thread (one round trip per
 * scrape, shared by every stand-in of that scrape). prom-client's Registry
 * needs only `name` and an async `get()` returning the metric's JSON form.
 */
import type { Registry } from 'prom-client';
import type { MetricJson } from './protocol.js';

export class RemoteMetrics {
  private inflight: Promise<Map<string, MetricJson>> | undefined;
  private readonly names: string[] = [];
  /** The last values fetched, served when the Loki thread does not answer. */
  private readonly last = new Map<string, MetricJson>();

  constructor(
    private readonly registry: Registry,
    /** Ask the Loki thread for all its metrics (undefined: it is gone; the last values are kept). */
    private readonly fetch: () => Promise<MetricJson[] | undefined>,
  ) {}

  /** Register a stand-in for each of the Loki thread's metrics (idempotent by name). */
  register(metrics: readonly MetricJson[]): void {
    for (const m of metrics) {
      this.last.set(m.name, m);
      if (this.registry.getSingleMetric(m.name) !== undefined) continue;
      this.names.push(m.name);
      const name = m.name;
      const standIn = {
        name,
        help: m.help,
        type: m.type,
        aggregator: m.aggregator,
        get: async (): Promise<MetricJson> => (await this.snapshot()).get(name) ?? this.last.get(name)!,
        reset: (): void => undefined,
      };
      this.registry.registerMetric(standIn as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }

  /** Current values of every remote metric, fetched once for all concurrent readers. */
  snapshot(): Promise<Map<string, MetricJson>> {
    this.inflight ??= this.fetch()
      .then((ms) => {
        if (ms !== undefined) for (const m of ms) this.last.set(m.name, m);
        return this.last;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  unregister(): void {
    for (const n of this.names) this.registry.removeSingleMetric(n);
    this.names.length = 0;
  }
}
