/**
 * The engine running issue #14's expressions end to end: several range
 * aggregations per rule read at one instant, offset, vector matching
 * failures surfaced as rule health, identical entries counted once, the
 * state file with several legs, constant and absent expressions.
 */
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { RuleEngine } from '../../src/rules/engine.js';
import { Simulation } from '../../src/rules/simulate.js';
import { validateSnapshot } from '../../src/rules/state-file.js';
import { rulesApiRoutes } from '../../src/http/routes/rules-api.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { T0, alertSet, ev, oneRule, rulesFromYaml } from '../helpers/timeline.js';

const S = 1000;
const M = 60 * S;

/** Alerts of rule A as `{labels}=value`, sorted. */
function values(sim: Simulation): string[] {
  return sim.engine
    .alerts()
    .filter(({ alert }) => alert.state !== 'inactive')
    .map(({ alert }) => {
      const { alertname: _, ...rest } = alert.labels;
      return `${JSON.stringify(rest)}=${alert.value}`;
    })
    .sort();
}

function run(expr: string, events: ReturnType<typeof ev>[], at: number): Simulation {
  const sim = new Simulation(oneRule(expr), T0);
  for (const e of [...events].sort((a, b) => a.timeMs - b.timeMs)) sim.ingest(e);
  sim.advanceTo(at);
  return sim;
}

describe('several range aggregations in one rule', () => {
  it('the issue\'s error ratio: errors / all lines per job, > 0.05', () => {
    const lines = [
      ...Array.from({ length: 18 }, (_, i) => ev(T0 + i * S, `ok ${i}`, { job: 'api' })),
      ev(T0 + 20 * S, 'error: boom', { job: 'api' }),
      ev(T0 + 21 * S, 'error: again', { job: 'api' }),
      ...Array.from({ length: 40 }, (_, i) => ev(T0 + i * S, `ok ${i}`, { job: 'db' })),
      ev(T0 + 41 * S, 'error: once', { job: 'db' }),
    ];
    const expr = 'sum by (job) (rate({host="10.0.0.5"} |= "error" [5m])) / sum by (job) (rate({host="10.0.0.5"}[5m])) > 0.05';
    const sim = run(expr, lines, T0 + 60 * S);
    // api: 2 errors of 20 lines = 0.1; db: 1 of 41 ≈ 0.024 (filtered out).
    expect(values(sim)).toEqual([`{"job":"api"}=${2 / 300 / (20 / 300)}`]);
    expect(sim.engine.loadedRules()[0]!.source.sources).toHaveLength(2);
  });

  it('ranges of different lengths are read at the same instant', () => {
    // 1m rate against the 10m rate of the same stream: a burst in the last minute.
    const old = Array.from({ length: 10 }, (_, i) => ev(T0 + i * 30 * S, `line ${i}`));
    const burst = Array.from({ length: 6 }, (_, i) => ev(T0 + 9 * M + i * S, `burst ${i}`));
    const expr = 'sum(count_over_time({job="talos-kernel"}[1m])) / sum(count_over_time({job="talos-kernel"}[10m]))';
    const sim = run(expr + ' > 0', [...old, ...burst], T0 + 9 * M + 10 * S);
    // At T0+9m10s: (t−1m, t] holds the 6 burst lines (line 9 at 4m30s is out); (t−10m, t] holds all 16.
    expect(values(sim)).toEqual([`{}=${6 / 16}`]);
  });

  it('a rule with mixed grid steps is evaluated on instants of the coarser grid (LCM of the steps)', () => {
    const sim = run('count_over_time({job="talos-kernel"}[5m]) and count_over_time({job="talos-kernel"}[2h])', [ev(T0 + 500, 'x')], T0 + 3 * S + 500);
    const rule = sim.engine.loadedRules()[0]!;
    expect(rule.source.sources.map((s) => s.stepMs)).toEqual([1000, 2000]);
    expect(rule.source.stepMs).toBe(2000);
    expect(rule.lastEvaluationMs % 2000).toBe(0);
    expect(values(sim)).toHaveLength(1);
  });

  it('a line matching both legs counts in both, and once in rule_matches', () => {
    const sim = run('sum(count_over_time({job="talos-kernel"} |= "a" [1m])) + sum(count_over_time({job="talos-kernel"}[1m])) > 0', [ev(T0, 'a'), ev(T0 + S, 'b')], T0 + 2 * S);
    expect(values(sim)).toEqual(['{}=3']);
    expect(sim.engine.loadedRules()[0]!.matches).toBe(2);
  });
});

describe('offset', () => {
  it('counts the range that ended `offset` ago: (t−o−d, t−o]', () => {
    const e = T0 + 10 * S;
    const rules = oneRule('sum(count_over_time({job="talos-kernel"}[1m] offset 5m)) > 0');
    const sim = new Simulation(rules, T0);
    sim.ingest(ev(e, 'x'));
    const at = (ms: number) => {
      sim.advanceTo(ms);
      return alertSet(sim);
    };
    expect(at(e + 5 * M - S)).toEqual([]);
    expect(at(e + 5 * M)).toEqual(['A{}=firing']);
    expect(at(e + 6 * M - S)).toEqual(['A{}=firing']);
    expect(at(e + 6 * M)).toEqual([]);
  });

  it('compares now with the same window a day earlier, history bounded', () => {
    const rules = oneRule('sum(count_over_time({job="talos-kernel"}[5m])) > 2 * sum(count_over_time({job="talos-kernel"}[5m] offset 1d))');
    const sim = new Simulation(rules, T0);
    sim.ingest(ev(T0 + S, 'yesterday'));
    const day = 24 * 60 * M;
    for (let i = 0; i < 3; i++) sim.ingest(ev(T0 + day + i * S, `today ${i}`));
    sim.advanceTo(T0 + day + 5 * S);
    // 3 now against 1 a day earlier.
    expect(values(sim)).toEqual(['{}=3']);
    const legs = sim.engine.loadedRules()[0]!.source.sources;
    // 1d + 5m of history in at most 3600 buckets: a 25 s grid for the offset leg.
    expect(legs[1]!.stepMs).toBe(25_000);
    expect(legs[1]!.slots).toBeLessThanOrEqual(3600);
    expect(sim.engine.loadedRules()[0]!.source.stepMs).toBe(25_000);
  });

  it('applies to unwrapped ranges too', () => {
    const lines = [ev(T0 + 10 * S, 'n=5'), ev(T0 + 20 * S, 'n=7'), ev(T0 + 80 * S, 'n=100')];
    const expr = 'sum(sum_over_time({job="talos-kernel"} | logfmt | unwrap n [1m] offset 1m)) > 0';
    // At +90s the range is (−30s, 30s]: 5 + 7; the line at 80s is not in it yet.
    expect(values(run(expr, lines, T0 + 90 * S))).toEqual(['{}=12']);
    // At +140s: (20s, 80s] holds only the 100.
    expect(values(run(expr, lines, T0 + 140 * S))).toEqual(['{}=100']);
    const q = 'max(quantile_over_time(0.5, {job="talos-kernel"} | logfmt | unwrap n [1m] offset 1m)) > 0';
    expect(values(run(q, lines, T0 + 90 * S))).toEqual(['{}=6']);
  });

  it('an offset with no grid common with the range is refused at load', async () => {
    const r = rulesFromYaml.bind(null);
    expect(() => r('groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: count_over_time({a="b"}[5m] offset 86400001ms)\n')).toThrow(/no common evaluation grid/);
  });
});

describe('Loki arithmetic in rules', () => {
  it('x / 0 > 1 is empty (NaN), 0 < v keeps v', () => {
    const lines = [ev(T0, 'a'), ev(T0 + S, 'b')];
    expect(values(run('sum(count_over_time({job="talos-kernel"}[1m])) / 0 > 1', lines, T0 + 2 * S))).toEqual([]);
    expect(values(run('sum(count_over_time({job="talos-kernel"}[1m])) / on() (sum(count_over_time({job="nothing"}[1m])) or vector(0)) > 1', lines, T0 + 2 * S))).toEqual([]);
    expect(values(run('0 < sum(count_over_time({job="talos-kernel"}[1m]))', lines, T0 + 2 * S))).toEqual(['{}=2']);
    expect(values(run('sum(count_over_time({job="talos-kernel"}[1m])) % 0 != 0', lines, T0 + 2 * S))).toEqual(['{}=NaN']);
  });

  it('topk, label_replace and or vector(0) in a rule', () => {
    const lines = [ev(T0, 'x', { host: 'n1.a' }), ev(T0, 'x', { host: 'n2.a' }), ev(T0 + S, 'y', { host: 'n2.a' })];
    expect(values(run('topk(1, sum by (host) (count_over_time({job="talos-kernel"}[1m])))', lines, T0 + 2 * S))).toEqual(['{"host":"n2.a"}=2']);
    expect(values(run('sum by (node) (label_replace(count_over_time({job="talos-kernel"}[1m]), "node", "$1", "host", "([^.]+)\\\\..*")) > 1', lines, T0 + 2 * S))).toEqual([
      '{"node":"n2"}=2',
    ]);
    expect(values(run('sum(count_over_time({job="none"}[1m])) or vector(0)', lines, T0 + 2 * S))).toEqual(['{}=0']);
  });
});

describe('constant and absent expressions', () => {
  it('vector(1) fires on the timer with no log lines', () => {
    const sim = new Simulation(oneRule('vector(1)'), T0);
    sim.advanceTo(T0 + 2 * S);
    expect(alertSet(sim)).toEqual(['A{}=firing']);
    expect(sim.engine.loadedRules()[0]!.source.sources).toHaveLength(0);
  });

  it.each([
    ['absent_over_time({job="talos-kernel", host=~"n.*"}[1m])', '{"job":"talos-kernel"}'],
    ['absent_over_time({job="talos-kernel"} |= "heartbeat" [1m])', '{"job":"talos-kernel"}'],
    ['absent_over_time(({job="talos-kernel", level="info"})[1m])', '{"job":"talos-kernel","level":"info"}'],
    ['absent_over_time({job="talos-kernel"}[1m] offset 1m)', '{"job":"talos-kernel"}'],
    ['absent_over_time({job="talos-kernel", job="x"}[1m])', '{}'],
  ])('%s → %s when nothing matched', (expr, labels) => {
    expect(values(run(expr, [], T0 + 3 * M))).toEqual([`${labels}=1`]);
  });

  it('absent_over_time as a leg next to another range', () => {
    const expr = 'absent_over_time({job="talos-kernel"} |= "heartbeat" [1m]) and on() sum(count_over_time({job="talos-kernel"}[1m])) > 0';
    expect(values(run(expr, [ev(T0 + 10 * S, 'other')], T0 + 20 * S))).toEqual(['{"job":"talos-kernel"}=1']);
    expect(values(run(expr, [ev(T0 + 10 * S, 'heartbeat')], T0 + 20 * S))).toEqual([]);
  });
});

describe('identical entries (Loki stores them once)', () => {
  const expr = 'sum(count_over_time({job="talos-kernel"}[5m])) > 0';
  it('the same stream, nanosecond and line count once; any difference counts', () => {
    const same = [ev(T0, 'oops', {}, 123), ev(T0, 'oops', {}, 123)];
    expect(values(run(expr, same, T0 + S))).toEqual(['{}=1']);
    expect(values(run(expr, [ev(T0, 'oops', {}, 123), ev(T0, 'oops', {}, 124)], T0 + S))).toEqual(['{}=2']);
    expect(values(run(expr, [ev(T0, 'oops'), ev(T0, 'oops!')], T0 + S))).toEqual(['{}=2']);
    expect(values(run(expr, [ev(T0, 'oops'), ev(T0, 'oops', { host: 'other' })], T0 + S))).toEqual(['{}=2']);
  });

  it('a kernel ring-buffer replay after reconnect adds nothing', () => {
    const ring = Array.from({ length: 20 }, (_, i) => ev(T0 + i * S, `kernel line ${i}`));
    const sim = new Simulation(oneRule(expr), T0);
    for (const e of ring) sim.ingest(e);
    sim.advanceTo(T0 + 60 * S);
    for (const e of ring) sim.ingest({ ...e, receivedMs: T0 + 60 * S });
    sim.engine.flush();
    expect(values(sim)).toEqual(['{}=20']);
    expect(sim.engine.identical.dropped).toBe(20);
  });

  it('memory is bounded by the longest history: old entries are forgotten', () => {
    const sim = new Simulation(oneRule(expr), T0);
    for (let i = 0; i < 50; i++) sim.ingest(ev(T0 + i * S, `l${i}`));
    expect(sim.engine.identical.size).toBe(50);
    sim.advanceTo(T0 + 30 * M);
    expect(sim.engine.identical.size).toBe(0);
  });

  it('reports dropped copies and tracked entries as metrics', async () => {
    const registry = new Registry();
    let now = T0;
    const engine = new RuleEngine({ tickMs: 1000, resolvedRetentionMs: 0, externalLabels: {}, externalUrl: '', now: () => now, autoFlush: false, registry });
    engine.load(oneRule(expr));
    engine.ingest(ev(T0, 'a'));
    engine.ingest(ev(T0, 'a'));
    now += S;
    engine.flush();
    const text = await registry.metrics();
    expect(text).toMatch(/identical_entries_dropped_total 1/);
    expect(text).toMatch(/identical_entries_tracked 1/);
    expect(text).toMatch(/rule_window_bytes\{rule_group="g",rule="A"\} [1-9]/);
  });
});

describe('evaluation errors surface as rule health', () => {
  it('many-to-many matching: health err with Loki\'s text in /api/v1/rules, recovery when it clears', async () => {
    const expr = 'sum by (host, level) (count_over_time({job="talos-kernel"}[1m])) / on(host) sum by (host, level) (count_over_time({job="talos-kernel"}[1m]))';
    const sim = new Simulation(oneRule(expr), T0);
    sim.ingest(ev(T0, 'a', { level: 'info' }));
    sim.ingest(ev(T0, 'b', { level: 'warn' }));
    const rule = sim.engine.loadedRules()[0]!;
    expect(rule.health).toBe('err');
    expect(rule.lastError).toBe('found duplicate series on the right hand-side;many-to-many matching not allowed: matching labels must be unique on one side');
    const app = Fastify();
    await app.register(rulesApiRoutes, { engine: sim.engine });
    const body = JSON.parse((await app.inject({ method: 'GET', url: '/api/v1/rules' })).body);
    const r = body.data.groups[0].rules[0];
    expect(r.health).toBe('err');
    expect(r.lastError).toContain('many-to-many matching not allowed');
    await app.close();
    // Once one of the two series leaves the window the match is one-to-one again.
    sim.ingest(ev(T0 + 90 * S, 'c', { level: 'info' }));
    expect(rule.health).toBe('ok');
  });
});

describe('state file with several legs', () => {
  it('round-trips every leg and restores the same values', async () => {
    const yaml = `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: 'sum(count_over_time({job="talos-kernel"} |= "e" [5m])) / sum(count_over_time({job="talos-kernel"}[10m])) > 0'\n`;
    const rules = rulesFromYaml(yaml);
    const a = new Simulation(rules, T0);
    for (let i = 0; i < 4; i++) a.ingest(ev(T0 + i * S, i % 2 === 0 ? 'e' : 'x'));
    a.advanceTo(T0 + 10 * S);
    const snap = validateSnapshot(JSON.parse(JSON.stringify(a.engine.snapshot())));
    expect(snap.rules[0]!.legs).toHaveLength(1);
    const b = new Simulation(rulesFromYaml(yaml), T0 + 10 * S);
    expect(b.engine.restore(snap)).toBe(1);
    b.advanceTo(T0 + 11 * S);
    expect(values(b)).toEqual(['{}=0.5']);
    // A snapshot whose legs don't fit is not restored.
    const broken = { ...snap, rules: [{ ...snap.rules[0]!, legs: [] }] };
    expect(new Simulation(rulesFromYaml(yaml), T0).engine.restore(broken)).toBe(0);
    expect(() => validateSnapshot({ ...snap, rules: [{ ...snap.rules[0]!, legs: [{ stepMs: 'x' }] }] })).toThrow('malformed leg');
  });
});

describe('state file for a constant rule', () => {
  it('restores the firing alert of vector(1) with its original activeAt', () => {
    const a = new Simulation(oneRule('vector(1)'), T0);
    a.advanceTo(T0 + 2 * S);
    const snap = validateSnapshot(JSON.parse(JSON.stringify(a.engine.snapshot())));
    const b = new Simulation(oneRule('vector(1)'), T0 + 10 * S);
    expect(b.engine.restore(snap)).toBe(1);
    expect(b.engine.alerts().map(({ alert }) => alert.activeAtMs)).toEqual([T0]);
  });
});

describe('rule files with vector algebra load', () => {
  it('check-style load accepts the constructs', async () => {
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'vec-'));
    const file = join(dir, 'r.yaml');
    const exprs = [
      'sum by (job) (rate({job="a"} |= "error" [5m])) / sum by (job) (rate({job="a"}[5m])) > 0.05',
      'sum(rate({job="a"}[5m])) > 2 * sum(rate({job="a"}[5m] offset 1h))',
      'topk(3, sum by (host) (count_over_time({job="a"}[5m])))',
      'count_over_time({job="a"}[1m]) unless on(host) count_over_time({job="b"}[1m])',
      'stddev(count_over_time({job="a"}[1m])) > 1',
      'vector(1)',
    ];
    await writeFile(file, `groups:\n  - name: g\n    rules:\n${exprs.map((e, i) => `      - alert: A${i}\n        expr: ${JSON.stringify(e)}\n`).join('')}`);
    const set = await loadRuleSet([file], { unsupported: 'error' });
    expect(set.groups[0]!.rules).toHaveLength(exprs.length);
  });
});
