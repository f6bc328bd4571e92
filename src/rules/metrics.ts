/** Metrics of the rule set's life: what is loaded and whether the last reload worked. */
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../metrics/registry.js';
import type { RuleSet } from './rule-file.js';

export class RuleLoadMetrics {
  private readonly reloadOk: Gauge;
  private readonly reloadTime: Gauge;
  private readonly loaded: Gauge;

  constructor(registry: Registry) {
    this.reloadOk = new Gauge({ name: `${METRIC_PREFIX}rules_last_reload_successful`, help: 'Whether the last rule reload succeeded (1) or failed and the previous rules are kept (0).', registers: [registry] });
    this.reloadTime = new Gauge({ name: `${METRIC_PREFIX}rules_last_reload_success_timestamp_seconds`, help: 'When rules were last loaded successfully.', registers: [registry] });
    this.loaded = new Gauge({ name: `${METRIC_PREFIX}rules_loaded`, help: 'Rules loaded, by type.', labelNames: ['type'], registers: [registry] });
  }

  loadedOk(set: RuleSet, nowMs = Date.now()): void {
    const rules = set.groups.flatMap((g) => g.rules);
    this.loaded.set({ type: 'alerting' }, rules.filter((r) => r.kind === 'alert').length);
    this.loaded.set({ type: 'recording' }, rules.filter((r) => r.kind === 'record').length);
    this.reloadOk.set(1);
    this.reloadTime.set(nowMs / 1000);
  }

  reloadFailed(): void {
    this.reloadOk.set(0);
  }
}
