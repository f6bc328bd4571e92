/**
 * Exposes recording rules' latest results as gauges on /metrics: one metric per
 * recorded name (several rules may record the same name with other labels).
 * prom-client's Gauge needs fixed label names, so each name is a small custom
 * metric object that the registry asks for its values at scrape time.
 */
import type { Registry } from 'prom-client';
import type { RecordingRule } from './recording-rule.js';

interface RecordedMetric {
  name: string;
  help: string;
  type: 'gauge';
  aggregator: 'sum';
  rules: RecordingRule[];
  get(): Promise<{ name: string; help: string; type: 'gauge'; aggregator: 'sum'; values: Array<{ labels: Record<string, string>; value: number }> }>;
}

export class RecordedMetrics {
  private readonly byName = new Map<string, RecordedMetric>();

  constructor(private readonly registry: Registry) {}

  /** Register the metrics of the current recording rules; drop names no rule records any more. */
  sync(rules: readonly RecordingRule[]): void {
    const wanted = new Map<string, RecordingRule[]>();
    for (const r of rules) wanted.set(r.def.name, [...(wanted.get(r.def.name) ?? []), r]);
    for (const name of this.byName.keys()) {
      if (!wanted.has(name)) {
        this.registry.removeSingleMetric(name);
        this.byName.delete(name);
      }
    }
    for (const [name, list] of wanted) {
      const existing = this.byName.get(name);
      if (existing !== undefined) {
        existing.rules = list;
        continue;
      }
      // A recorded name that clashes with one of our own metrics is skipped rather than crash the load.
      if (this.registry.getSingleMetric(name) !== undefined) continue;
      const metric: RecordedMetric = {
        name,
        help: `Recording rule ${name} (LogQL, evaluated by talos-alert-sidecar).`,
        type: 'gauge',
        aggregator: 'sum',
        rules: list,
        async get() {
          const values = metric.rules.flatMap((r) => r.samples().map((s) => ({ labels: { ...s.labels }, value: s.value })));
          return { name, help: metric.help, type: 'gauge', aggregator: 'sum', values };
        },
      };
      this.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
      this.byName.set(name, metric);
    }
  }
}
