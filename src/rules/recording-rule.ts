/**
 * A recording rule: its result is kept as the latest samples and exposed as
 * gauges on /metrics (there is no remote write here).
 */
import type { Sample } from './instant-vector.js';
import type { RecordingRuleDef } from './rule-file.js';

export class RecordingRule {
  private latest: Sample[] = [];

  constructor(readonly def: RecordingRuleDef) {}

  eval(samples: readonly Sample[], limit: number): void {
    if (limit > 0 && samples.length > limit) {
      this.latest = [];
      throw new Error(`exceeded limit of ${limit} with ${samples.length} series`);
    }
    this.latest = samples.map((s) => {
      const labels: Record<string, string> = { ...s.labels, ...this.def.labels };
      delete labels.__name__;
      return { labels, value: s.value };
    });
  }

  /** Latest result: samples labelled as the rule says (metric name is def.name). */
  samples(): readonly Sample[] {
    return this.latest;
  }
}
