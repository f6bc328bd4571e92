/** Metrics of the rule set's life: what is loaded and whether the last reload worked. */
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../metrics/registry.js';
import type { RuleSet } from './rule-file.js';

export class RuleLoadMetrics {
  private readonly reloadOk: Gauge;
  private readonly reloadTime: Gauge;
  private readonly loaded: Gauge;
  private readonly skipped: Gauge;

  constructor(registry: Registry) {
    this.reloadOk = new Gauge({ name: `${METRIC_PREFIX}rules_last_reload_successful`, help: 'Whether the last rule reload succeeded (1) or failed and the previous rules are kept (0).', registers: [registry] });
    this.reloadTime = new Gauge({ name: `${METRIC_PREFIX}rules_last_reload_success_timestamp_seconds`, help: 'When rules were last loaded successfully.', registers: [registry] });
    this.loaded = new Gauge({ name: `${METRIC_PREFIX}rules_loaded`, help: 'Rules loaded, by type.', labelNames: ['type'], registers: [registry] });
    this.skipped = new Gauge({
      name: `${METRIC_PREFIX}rules_skipped`,
      help: 'Rules loaded but never evaluated, by reason: LogQL this engine cannot run (unsupported), or stream selectors that can never match the labels this sidecar produces (not_applicable).',
      labelNames: ['reason'],
      registers: [registry],
    });
  }

  loadedOk(set: RuleSet, nowMs = Date.now()): void {
    const rules = set.groups.flatMap((g) => g.rules);
    this.loaded.set({ type: 'alerting' }, rules.filter((r) => r.kind === 'alert').length);
    this.loaded.set({ type: 'recording' }, rules.filter((r) => r.kind === 'record').length);
    this.skipped.set({ reason: 'unsupported' }, set.skipped.filter((s) => s.cause === 'unsupported').length);
    this.skipped.set({ reason: 'not_applicable' }, set.skipped.filter((s) => s.cause === 'not_applicable').length);
    this.reloadOk.set(1);
    this.reloadTime.set(nowMs / 1000);
  }

  reloadFailed(): void {
    this.reloadOk.set(0);
  }
}
