/**
 * Issue 16 part 4: a sender inventing a `talos-service` per line must not grow
 * rule windows without bound, slow honest alerting, or keep memory after the
 * windows expire.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { RuleEngine } from '../../src/rules/engine.js';
import type { SeriesLimits } from '../../src/rules/series-budget.js';
import { AlertState } from '../../src/rules/alert.js';
import { T0, ev, rulesFromYaml } from '../helpers/timeline.js';

const ISCSI = 'iscsid: Kernel reported iSCSI connection 1:0 error (1020)';
const RULES = rulesFromYaml(`groups:
  - name: g
    rules:
      - alert: ISCSIError
        expr: sum by (talos_service) (count_over_time({job="talos-kernel"} |~ "(?i)iscsi.*error" [5m])) > 0
`);

function engineWith(limits: SeriesLimits | undefined, clock: { now: number }, registry?: Registry): RuleEngine {
  const engine = new RuleEngine({ tickMs: 1000, resolvedRetentionMs: 60_000, externalLabels: {}, externalUrl: '', now: () => clock.now, autoFlush: false, seriesLimits: limits, registry });
  engine.load(RULES);
  return engine;
}

const firing = (e: RuleEngine) => e.alerts().filter(({ alert }) => alert.state === AlertState.Firing).map(({ alert }) => alert.labels.talos_service);

describe('rule series budget', () => {
  it('drops new series beyond rules.max_series_per_rule, keeps the firing ones, counts and exposes the drops', async () => {
    const clock = { now: T0 };
    const registry = new Registry();
    const engine = engineWith({ maxSeriesPerRule: 100, maxWindowBytes: 0 }, clock, registry);
    engine.ingest(ev(T0, ISCSI, { talos_service: 'honest' }));
    engine.flush();
    expect(firing(engine)).toEqual(['honest']);
    for (let i = 0; i < 5_000; i++) engine.ingest(ev(T0 + 1000 + i, ISCSI, { talos_service: `attack-${i}` }));
    engine.flush();
    const rule = engine.loadedRules()[0]!;
    expect(rule.source.seriesCount).toBe(100);
    // The honest series is still held and still counted.
    engine.ingest(ev(T0 + 10_000, ISCSI, { talos_service: 'honest' }));
    clock.now = T0 + 10_000;
    engine.tick();
    expect(firing(engine)).toContain('honest');
    const honest = engine.alerts().find(({ alert }) => alert.labels.talos_service === 'honest')!;
    expect(honest.alert.value).toBe(2);
    const text = await registry.metrics();
    expect(text).toContain('talos_alert_sidecar_rule_series_dropped_total{rule_group="g",rule="ISCSIError",reason="series_limit"} 4901');
    expect(text).toMatch(/talos_alert_sidecar_rule_window_memory_bytes \d+/);
  });

  it('drops new series once all windows hold rules.max_window_memory', () => {
    const clock = { now: T0 };
    const engine = engineWith({ maxSeriesPerRule: 0, maxWindowBytes: 64 * 1024 }, clock);
    for (let i = 0; i < 5_000; i++) engine.ingest(ev(T0 + i, ISCSI, { talos_service: `s-${i}` }));
    engine.flush();
    const held = engine.loadedRules()[0]!.source.seriesCount;
    expect(held).toBeGreaterThan(100);
    expect(held).toBeLessThan(5_000);
    expect(engine.seriesBudget.meter.bytes).toBeLessThan(64 * 1024 + 1024);
    expect(engine.loadedRules()[0]!.source.seriesCount).toBe(held);
  });

  it('holds a one-line series in a few hundred bytes, not a ring of 600 buckets', () => {
    const clock = { now: T0 };
    const engine = engineWith(undefined, clock);
    for (let i = 0; i < 10_000; i++) engine.ingest(ev(T0 + i, ISCSI, { talos_service: `s-${i}` }));
    engine.flush();
    expect(engine.loadedRules()[0]!.source.seriesCount).toBe(10_000);
    const perSeries = engine.seriesBudget.meter.bytes / 10_000;
    expect(perSeries).toBeLessThan(300);
  });

  it('frees every window (and its memory) once its lines are out of the range', () => {
    const clock = { now: T0 };
    const engine = engineWith({ maxSeriesPerRule: 20_000, maxWindowBytes: 0 }, clock);
    for (let i = 0; i < 10_000; i++) engine.ingest(ev(T0 + (i % 1000), ISCSI, { talos_service: `s-${i}` }));
    engine.flush();
    expect(engine.seriesBudget.meter.bytes).toBeGreaterThan(0);
    clock.now = T0 + 5 * 60_000 + 2000;
    engine.tick();
    expect(engine.loadedRules()[0]!.source.seriesCount).toBe(0);
    expect(engine.seriesBudget.meter.bytes).toBe(0);
    // A reload that drops the rule gives its windows back too.
    engine.ingest(ev(clock.now, ISCSI, { talos_service: 'late' }));
    engine.flush();
    expect(engine.seriesBudget.meter.bytes).toBeGreaterThan(0);
    engine.load({ groups: [], skipped: [], files: [] });
    expect(engine.seriesBudget.meter.bytes).toBe(0);
  });
});
