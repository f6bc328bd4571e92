/**
 * Conformance: scripted timelines with the alert sets the Loki ruler would
 * produce at given instants (spec: shared/spec/loki-ruler-and-alertmanager.md).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadRuleSet } from '../../src/rules/load.js';
import { Simulation } from '../../src/rules/simulate.js';
import { AlertState } from '../../src/rules/alert.js';
import { T0, alertSet, ev, oneRule, rulesFromYaml, runTimeline } from '../helpers/timeline.js';

const S = 1000;
const M = 60 * S;
const BTRFS = 'BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230';
const ISCSI = ' connection1:0: detected conn error (1020)';
const ISCSI_D = 'iscsid: Kernel reported iSCSI connection 1:0 error (1020 - ISCSI_ERR_TCP_CONN_CLOSE: TCP connection closed) state (3)';

describe('the seed rules (rules/talos-kernel.yaml), loaded unchanged', async () => {
  const seed = await loadRuleSet(['rules/talos-kernel.yaml'], { unsupported: 'error' });

  it('BTRFSCorruptionDetected fires on the first matching line and resolves when it is exactly 5m old', () => {
    const sets = runTimeline(seed, [ev(T0 + 10 * S, BTRFS)], [T0 + 9 * S, T0 + 10 * S, T0 + 10 * S + 5 * M - 1, T0 + 10 * S + 5 * M]);
    expect(sets.get(T0 + 9 * S)).toEqual([]);
    expect(sets.get(T0 + 10 * S)).toEqual(['BTRFSCorruptionDetected{severity=critical}=firing']);
    expect(sets.get(T0 + 10 * S + 5 * M - 1)).toEqual(['BTRFSCorruptionDetected{severity=critical}=firing']);
    // (t−5m, t]: a line exactly 5m old is out.
    expect(sets.get(T0 + 10 * S + 5 * M)).toEqual([]);
  });

  it('ISCSIKernelError is pending for 2m, then fires; (?i) matches either case', () => {
    const lines = [ev(T0, ISCSI_D), ev(T0 + 30 * S, 'ISCSI TIMEOUT on session 3')];
    const sets = runTimeline(seed, lines, [T0, T0 + 2 * M - 1, T0 + 2 * M, T0 + 30 * S + 5 * M]);
    expect(sets.get(T0)).toEqual(['ISCSIKernelError{severity=warning}=pending']);
    expect(sets.get(T0 + 2 * M - 1)).toEqual(['ISCSIKernelError{severity=warning}=pending']);
    expect(sets.get(T0 + 2 * M)).toEqual(['ISCSIKernelError{severity=warning}=firing']);
    expect(sets.get(T0 + 30 * S + 5 * M)).toEqual([]);
  });

  it('does not match near misses', () => {
    const lines = [ev(T0, 'BTRFS info (device sdb): parent transid verify ok'), ev(T0, 'iscsi session up'), ev(T0, ISCSI)];
    const sets = runTimeline(seed, lines, [T0, T0 + 3 * M]);
    expect(sets.get(T0)).toEqual([]);
    // " connection1:0: detected conn error" has "error" but no "iscsi": no match.
    expect(sets.get(T0 + 3 * M)).toEqual([]);
  });

  it('a replay of old errors (kernel ring buffer on reconnect) does not fire; one from the last 5 minutes does', () => {
    const sim = new Simulation(seed, T0 + 20 * M);
    const old = ev(T0 + 5 * M, BTRFS); // 15 minutes old on arrival
    sim.engine.ingest(old);
    sim.engine.flush();
    expect(alertSet(sim)).toEqual([]);
    const recent = ev(T0 + 17 * M, BTRFS); // 3 minutes old
    sim.engine.ingest(recent);
    sim.engine.flush();
    expect(alertSet(sim)).toEqual(['BTRFSCorruptionDetected{severity=critical}=firing']);
    // …and it resolves when that line is 5 minutes old, not 5 minutes after arrival.
    sim.advanceTo(T0 + 22 * M);
    expect(alertSet(sim)).toEqual([]);
  });

  it('emits firing with value and the templated annotation, then resolved', () => {
    const sim = new Simulation(seed, T0);
    sim.ingest(ev(T0 + S, BTRFS));
    sim.ingest(ev(T0 + 2 * S, BTRFS));
    sim.finish();
    const kinds = sim.changes.filter((c) => c.rule.name === 'BTRFSCorruptionDetected').map((c) => `${c.kind}@${(c.atMs - T0) / S}`);
    expect(kinds).toEqual(['pending@1', 'firing@1', 'resolved@302']);
    const firing = sim.changes.find((c) => c.kind === 'firing')!;
    expect(firing.alert.labels).toEqual({ alertname: 'BTRFSCorruptionDetected', severity: 'critical' });
    expect(firing.alert.value).toBe(1);
    expect(firing.alert.annotations.description).toMatch(/^1 kernel log line/);
    expect(firing.alert.firedAtMs).toBe(T0 + S);
  });
});

describe('LogQL semantics', () => {
  it('sum by (host) keeps one alert per host', () => {
    const rules = oneRule('sum by (host) (count_over_time({job="talos-kernel"} |= "oops" [1m])) > 1');
    const lines = [ev(T0, 'oops a', { host: 'n1' }), ev(T0 + S, 'oops b', { host: 'n1' }), ev(T0 + S, 'oops', { host: 'n2' }), ev(T0 + 2 * S, 'oops', { host: 'n3' }), ev(T0 + 3 * S, 'oops', { host: 'n3' })];
    const sets = runTimeline(rules, lines, [T0 + 5 * S]);
    expect(sets.get(T0 + 5 * S)).toEqual(['A{host=n1}=firing', 'A{host=n3}=firing']);
  });

  it('sum without (level) drops only that label; count, min, max, avg aggregate across streams', () => {
    const lines = [ev(T0, 'x', { host: 'n1', level: 'info' }), ev(T0, 'x', { host: 'n1', level: 'warn' }), ev(T0, 'x', { host: 'n2', level: 'info' }), ev(T0, 'y', { host: 'n2', level: 'info' })];
    const at = T0 + S;
    const value = (expr: string) => {
      const sim = new Simulation(oneRule(expr), T0);
      for (const l of lines) sim.ingest(l);
      sim.advanceTo(at);
      return sim.engine.alerts().map(({ alert }) => `${JSON.stringify(alert.labels)}=${alert.value}`).sort();
    };
    expect(value('sum without (level, talos_service, job) (count_over_time({job="talos-kernel"}[1m])) > 0')).toEqual([
      '{"host":"n1","alertname":"A"}=2',
      '{"host":"n2","alertname":"A"}=2',
    ]);
    expect(value('count(count_over_time({job="talos-kernel"}[1m])) > 0')).toEqual(['{"alertname":"A"}=3']);
    expect(value('max(count_over_time({job="talos-kernel"}[1m])) >= 2')).toEqual(['{"alertname":"A"}=2']);
    expect(value('min(count_over_time({job="talos-kernel"}[1m])) < 2')).toEqual(['{"alertname":"A"}=1']);
    expect(value('avg(count_over_time({job="talos-kernel"}[1m])) > 1')).toEqual([`{"alertname":"A"}=${4 / 3}`]);
  });

  it('rate, bytes_over_time and bytes_rate, arithmetic with scalars, and bool', () => {
    const lines = [ev(T0, 'abcd'), ev(T0 + S, 'ü€')]; // 4 bytes + 5 bytes (UTF-8)
    const value = (expr: string) => {
      const sim = new Simulation(oneRule(expr), T0);
      for (const l of lines) sim.ingest(l);
      sim.advanceTo(T0 + 2 * S);
      return sim.engine.alerts().map(({ alert }) => alert.value);
    };
    expect(value('sum(rate({job="talos-kernel"}[1m])) > 0')).toEqual([2 / 60]);
    expect(value('sum(bytes_over_time({job="talos-kernel"}[1m])) > 0')).toEqual([9]);
    expect(value('sum(bytes_rate({job="talos-kernel"}[1m])) * 60 > 0')).toEqual([9]);
    expect(value('sum(count_over_time({job="talos-kernel"}[1m])) * 2 + 1 == 5')).toEqual([5]);
    expect(value('sum(count_over_time({job="talos-kernel"}[1m])) > bool 5')).toEqual([0]);
    expect(value('2 < sum(count_over_time({job="talos-kernel"}[1m]))')).toEqual([]);
    expect(value('1 < sum(count_over_time({job="talos-kernel"}[1m]))')).toEqual([2]);
  });

  it('line filters: chained AND, `or` alternatives, negations, and case-insensitive regex', () => {
    const count = (expr: string, lines: string[]) => {
      const sim = new Simulation(oneRule(`sum(count_over_time(${expr} [1m])) > 0`), T0);
      lines.forEach((l) => sim.ingest(ev(T0, l)));
      sim.advanceTo(T0 + S);
      return sim.engine.alerts()[0]?.alert.value ?? 0;
    };
    const lines = ['foo bar', 'foo baz', 'bar only', 'FOO QUX', 'nothing'];
    expect(count('{job="talos-kernel"} |= "foo" |= "ba"', lines)).toBe(2);
    expect(count('{job="talos-kernel"} |= "foo" or "bar"', lines)).toBe(3);
    expect(count('{job="talos-kernel"} != "foo" != "bar"', lines)).toBe(2);
    expect(count('{job="talos-kernel"} |~ "(?i)foo"', lines)).toBe(3);
    expect(count('{job="talos-kernel"} !~ "ba[rz]"', lines)).toBe(2);
    expect(count('{job="talos-kernel"} |~ "^foo b"', lines)).toBe(2);
  });

  it('stream selectors: =, !=, =~ (anchored), !~', () => {
    const lines = [ev(T0, 'x', { host: 'node-1' }), ev(T0, 'x', { host: 'node-12' }), ev(T0, 'x', { host: 'other', talos_service: 'kubelet' })];
    const count = (sel: string) => {
      const sim = new Simulation(oneRule(`sum(count_over_time(${sel} [1m])) > 0`), T0);
      lines.forEach((l) => sim.ingest(l));
      sim.advanceTo(T0 + S);
      return sim.engine.alerts()[0]?.alert.value ?? 0;
    };
    expect(count('{host="node-1"}')).toBe(1);
    expect(count('{job="talos-kernel", host!="node-1"}')).toBe(2);
    expect(count('{host=~"node-1"}')).toBe(1); // anchored: not node-12
    expect(count('{host=~"node-.*"}')).toBe(2);
    expect(count('{host!~"node-.*", talos_service="kubelet"}')).toBe(1);
  });

  it('absent_over_time fires when a host stops sending, with the selector\'s equality labels', () => {
    const rules = oneRule('absent_over_time({job="talos-kernel", host="n1"}[1m])', '        for: 0m\n');
    const lines = [ev(T0, 'hello', { host: 'n1' }), ev(T0 + 30 * S, 'hello', { host: 'n1' }), ev(T0 + 2 * M, 'hello', { host: 'n2' })];
    const sets = runTimeline(rules, lines, [T0 + S, T0 + 30 * S + M - 1, T0 + 30 * S + M, T0 + 3 * M]);
    expect(sets.get(T0 + S)).toEqual([]);
    expect(sets.get(T0 + 30 * S + M - 1)).toEqual([]);
    expect(sets.get(T0 + 30 * S + M)).toEqual(['A{host=n1,job=talos-kernel}=firing']);
    expect(sets.get(T0 + 3 * M)).toEqual(['A{host=n1,job=talos-kernel}=firing']);
  });
});

describe('alert state (Prometheus rules/alerting.go)', () => {
  it('a pending alert that disappears before `for` is deleted, never fired', () => {
    const sim = new Simulation(oneRule('sum(count_over_time({job="talos-kernel"} |= "x" [1m])) > 0', '        for: 2m\n'), T0);
    sim.ingest(ev(T0, 'x'));
    sim.finish();
    expect(sim.changes.map((c) => c.kind)).toEqual(['pending', 'removed']);
  });

  it('keep_firing_for holds a firing alert after the condition stops', () => {
    const rules = oneRule('sum(count_over_time({job="talos-kernel"} |= "x" [1m])) > 0', '        keep_firing_for: 90s\n');
    const sets = runTimeline(rules, [ev(T0, 'x')], [T0, T0 + M, T0 + M + 90 * S - 1, T0 + M + 90 * S]);
    expect(sets.get(T0)).toEqual(['A{}=firing']);
    expect(sets.get(T0 + M)).toEqual(['A{}=firing']);
    expect(sets.get(T0 + M + 90 * S - 1)).toEqual(['A{}=firing']);
    expect(sets.get(T0 + M + 90 * S)).toEqual([]);
  });

  it('resolved alerts are retained 15 minutes, then removed; a recurrence starts a new alert', () => {
    const sim = new Simulation(oneRule('sum(count_over_time({job="talos-kernel"} |= "x" [1m])) > 0'), T0);
    sim.ingest(ev(T0, 'x'));
    sim.advanceTo(T0 + M);
    expect(alertSet(sim, true)).toEqual(['A{}=inactive']);
    const resolvedAt = sim.engine.alerts()[0]!.alert.resolvedAtMs;
    expect(resolvedAt).toBe(T0 + M);
    sim.advanceTo(T0 + M + 15 * M);
    expect(alertSet(sim, true)).toEqual(['A{}=inactive']);
    sim.advanceTo(T0 + M + 15 * M + S);
    expect(alertSet(sim, true)).toEqual([]);
    sim.ingest(ev(T0 + 20 * M, 'x'));
    const fired = sim.changes.filter((c) => c.kind === 'firing');
    expect(fired.map((c) => c.alert.firedAtMs)).toEqual([T0, T0 + 20 * M]);
    expect(sim.changes.filter((c) => c.kind === 'removed')).toHaveLength(1);
  });

  it('rule labels are templated from the series and win over series labels', () => {
    const rules = rulesFromYaml(`groups:
  - name: g
    rules:
      - alert: OOM
        expr: sum by (host, level) (count_over_time({job="talos-kernel"} |= "Out of memory" [5m])) > 0
        labels:
          severity: page
          level: overridden
          node: 'node-{{ $labels.host }}'
        annotations:
          summary: '{{ $value }} OOM kills on {{ $labels.host }}'
`);
    const sim = new Simulation(rules, T0);
    sim.ingest(ev(T0, 'Out of memory: Killed process 1234 (java)', { host: 'n7' }));
    const a = sim.engine.alerts()[0]!.alert;
    expect(a.labels).toEqual({ alertname: 'OOM', host: 'n7', level: 'overridden', severity: 'page', node: 'node-n7' });
    expect(a.annotations).toEqual({ summary: '1 OOM kills on n7' });
    expect(a.state).toBe(AlertState.Firing);
  });

  it('a reload keeps the state of unchanged rules and drops removed ones', () => {
    const yaml = (extra: string) => `groups:
  - name: g
    rules:
      - alert: Keep
        expr: sum(count_over_time({job="talos-kernel"} |= "x" [5m])) > 0
${extra}`;
    const sim = new Simulation(rulesFromYaml(yaml(`      - alert: Gone
        expr: sum(count_over_time({job="talos-kernel"} |= "x" [5m])) > 0
`)), T0);
    sim.ingest(ev(T0, 'x'));
    expect(alertSet(sim)).toEqual(['Gone{}=firing', 'Keep{}=firing']);
    sim.engine.load(rulesFromYaml(yaml('')));
    expect(alertSet(sim)).toEqual(['Keep{}=firing']);
    expect(sim.changes.at(-1)!.kind).toBe('removed');
    sim.advanceTo(T0 + M);
    expect(sim.engine.alerts()[0]!.alert.firedAtMs).toBe(T0);
  });
});

describe('property: the continuous engine equals a naive re-count', () => {
  it('at every grid instant, count_over_time of the matching lines in (t−d, t]', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(10 * S, M, 5 * M),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 15 * M }), ns: fc.integer({ min: 0, max: 2 }), hit: fc.boolean(), host: fc.constantFrom('a', 'b') }), { maxLength: 80 }),
        fc.array(fc.integer({ min: 0, max: 20 * M }), { minLength: 1, maxLength: 15 }),
        (d, raw, rawChecks) => {
          const rules = oneRule(`sum by (host) (count_over_time({job="talos-kernel"} |= "hit" [${d / S}s])) > 0`);
          const events = raw.map((r) => ev(T0 + r.at, r.hit ? 'a hit' : 'a miss', { host: r.host }, r.ns * 1000));
          const checks = rawChecks.map((c) => T0 + Math.ceil(c / S) * S);
          const sets = runTimeline(rules, events, checks);
          for (const t of new Set(checks)) {
            const expected = new Map<string, number>();
            for (const e of events) {
              const tNs = BigInt(e.timeMs) * 1_000_000n + BigInt(e.timeNsRem);
              if (e.line === 'a hit' && tNs > BigInt(t - d) * 1_000_000n && tNs <= BigInt(t) * 1_000_000n) {
                expected.set(e.stream.labels.host!, (expected.get(e.stream.labels.host!) ?? 0) + 1);
              }
            }
            const want = [...expected.keys()].sort().map((h) => `A{host=${h}}=firing`);
            expect(sets.get(t)).toEqual(want);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
