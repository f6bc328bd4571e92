/**
 * Issue #18: alerts carry the lines that fired them. Which lines belong to
 * which alert (label agreement), the window, the bounds (K lines, bytes,
 * rings), the annotation and `$lines`, the state file and the API.
 */
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { Simulation } from '../../src/rules/simulate.js';
import { validateSnapshot } from '../../src/rules/state-file.js';
import { rulesApiRoutes } from '../../src/http/routes/rules-api.js';
import { EvidenceStore, MAX_EVIDENCE_SERIES, formatEvidence, truncateLine, type EvidenceConfig } from '../../src/rules/evidence.js';
import type { Alert } from '../../src/rules/alert.js';
import { T0, ev, oneRule, rulesFromYaml } from '../helpers/timeline.js';

const S = 1000;
const M = 60 * S;
const ON: EvidenceConfig = { maxLines: 3, maxLineBytes: 512, annotation: '' };

function sim(expr: string, cfg: EvidenceConfig = ON, extra = ''): Simulation {
  return new Simulation(oneRule(expr, extra), T0, { evidence: cfg });
}

function alertOf(s: Simulation, labels: Record<string, string> = {}): Alert {
  const found = s.engine.alerts().find(({ alert }) => Object.entries(labels).every(([k, v]) => alert.labels[k] === v));
  if (found === undefined) throw new Error(`no alert ${JSON.stringify(labels)}`);
  return found.alert;
}

const lines = (a: Alert): string[] => (a.evidence ?? []).map((l) => l.line);

describe('which lines belong to which alert', () => {
  it('sum by (host): each host\'s alert carries only that host\'s lines', () => {
    const s = sim('sum by (host) (count_over_time({job="talos-kernel"} |= "error" [5m])) > 0');
    s.ingest(ev(T0 + 1 * S, 'error on a #1', { host: 'a' }));
    s.ingest(ev(T0 + 2 * S, 'error on b #1', { host: 'b' }));
    s.ingest(ev(T0 + 3 * S, 'error on a #2', { host: 'a', talos_service: 'kubelet' }));
    s.ingest(ev(T0 + 4 * S, 'fine on a', { host: 'a' }));
    s.advanceTo(T0 + 5 * S);
    expect(lines(alertOf(s, { host: 'a' }))).toEqual(['error on a #1', 'error on a #2']);
    expect(lines(alertOf(s, { host: 'b' }))).toEqual(['error on b #1']);
    expect(alertOf(s, { host: 'a' }).evidence![1]!.labels.talos_service).toBe('kubelet');
  });

  it('hosts that appear after alerts exist (index updated in place, and rebuilt after a sweep) get their own lines', () => {
    const s = sim('sum by (host) (count_over_time({job="talos-kernel"} |= "error" [1m])) > 0');
    for (let i = 0; i < 30; i++) {
      s.ingest(ev(T0 + i * S, `error on h${i}`, { host: `h${i}` }));
      s.ingest(ev(T0 + i * S + 1, `error again on h${i % 3}`, { host: `h${i % 3}` }));
      s.advanceTo(T0 + i * S + 2);
    }
    s.advanceTo(T0 + 31 * S);
    expect(lines(alertOf(s, { host: 'h29' }))).toEqual(['error on h29']);
    expect(lines(alertOf(s, { host: 'h1' }))).toEqual(['error again on h1', 'error again on h1', 'error again on h1']);
    // h0's rings leave the 1m window and are swept; hosts arriving after that are still found.
    s.advanceTo(T0 + 95 * S);
    s.ingest(ev(T0 + 96 * S, 'error on late', { host: 'late' }));
    s.advanceTo(T0 + 97 * S);
    expect(lines(alertOf(s, { host: 'late' }))).toEqual(['error on late']);
    s.ingest(ev(T0 + 98 * S, 'error on later', { host: 'later' }));
    s.advanceTo(T0 + 99 * S);
    expect(lines(alertOf(s, { host: 'later' }))).toEqual(['error on later']);
  });

  it('sum(…) without labels keeps lines of every contributing stream, the K most recent, oldest first', () => {
    const s = sim('sum(count_over_time({job="talos-kernel"} |= "error" [5m])) > 0');
    for (let i = 0; i < 10; i++) s.ingest(ev(T0 + i * S, `error ${i}`, { host: i % 2 === 0 ? 'a' : 'b' }));
    s.advanceTo(T0 + 11 * S);
    expect(lines(alertOf(s))).toEqual(['error 7', 'error 8', 'error 9']);
    expect(new Set(alertOf(s).evidence!.map((l) => l.labels.host))).toEqual(new Set(['a', 'b']));
  });

  it('extracted labels: `| json` alerts per extracted label get only their lines', () => {
    const s = sim('sum by (unit) (count_over_time({job="talos-kernel"} | json | sev="bad" [5m])) > 0');
    s.ingest(ev(T0 + 1 * S, '{"unit":"etcd","sev":"bad","m":"x1"}'));
    s.ingest(ev(T0 + 2 * S, '{"unit":"kubelet","sev":"bad","m":"y1"}'));
    s.ingest(ev(T0 + 3 * S, '{"unit":"etcd","sev":"ok","m":"x2"}'));
    s.ingest(ev(T0 + 4 * S, '{"unit":"etcd","sev":"bad","m":"x3"}'));
    s.advanceTo(T0 + 5 * S);
    expect(lines(alertOf(s, { unit: 'etcd' }))).toEqual(['{"unit":"etcd","sev":"bad","m":"x1"}', '{"unit":"etcd","sev":"bad","m":"x3"}']);
    expect(lines(alertOf(s, { unit: 'kubelet' }))).toEqual(['{"unit":"kubelet","sev":"bad","m":"y1"}']);
  });

  it('two legs: a ratio alert per host keeps lines of both legs for that host only', () => {
    const s = sim('sum by (host) (count_over_time({job="talos-kernel"} |= "error" [1m])) / sum by (host) (count_over_time({job="talos-kernel"} [1m])) > 0.4');
    s.ingest(ev(T0 + 1 * S, 'ok a', { host: 'a' }));
    s.ingest(ev(T0 + 2 * S, 'error a', { host: 'a' }));
    s.ingest(ev(T0 + 3 * S, 'error b', { host: 'b' }));
    s.advanceTo(T0 + 4 * S);
    expect(lines(alertOf(s, { host: 'a' }))).toEqual(['ok a', 'error a']);
    expect(lines(alertOf(s, { host: 'b' }))).toEqual(['error b']);
  });

  it('a rule label overriding a stream label (job) does not hide the lines', () => {
    const s = sim('count_over_time({job="talos-kernel"} |= "oops" [5m]) > 0', ON, '        labels:\n          job: alerts\n');
    s.ingest(ev(T0 + 1 * S, 'oops'));
    s.advanceTo(T0 + 2 * S);
    expect(lines(alertOf(s))).toEqual(['oops']);
  });

  it('lines with the same time keep arrival order after the ring wraps', () => {
    const s = sim('sum(count_over_time({job="talos-kernel"}[1m])) > 0');
    for (let i = 0; i < 5; i++) s.engine.ingest(ev(T0 + S, `same ms ${i}`));
    s.engine.flush();
    expect(lines(alertOf(s))).toEqual(['same ms 2', 'same ms 3', 'same ms 4']);
  });

  it('only lines inside the range window count', () => {
    const s = sim('sum(count_over_time({job="talos-kernel"} |= "error" [1m])) > 0');
    s.ingest(ev(T0 + 1 * S, 'error old'));
    s.advanceTo(T0 + 50 * S);
    s.ingest(ev(T0 + 70 * S, 'error new'));
    s.advanceTo(T0 + 71 * S);
    expect(lines(alertOf(s))).toEqual(['error new']);
  });

  it('recording rules and evidence off carry nothing', () => {
    const rec = new Simulation(rulesFromYaml('groups:\n  - name: g\n    rules:\n      - record: r\n        expr: count_over_time({job="talos-kernel"}[1m])\n'), T0, { evidence: ON });
    rec.ingest(ev(T0 + S, 'x'));
    expect(rec.engine.loadedRules()[0]!.evidence).toBeUndefined();
    const off = sim('count_over_time({job="talos-kernel"}[1m]) > 0', { ...ON, maxLines: 0 });
    off.ingest(ev(T0 + S, 'x'));
    expect(alertOf(off).evidence).toBeUndefined();
  });
});

describe('bounds', () => {
  it('truncates to max_line_bytes at a character boundary, with a marker', () => {
    expect(truncateLine('short', 10)).toBe('short');
    expect(truncateLine('x'.repeat(20), 10)).toBe(`${'x'.repeat(10)} …[+10 bytes]`);
    // 'é' is 2 bytes: 5 fit in 11 bytes, the 6th would split.
    expect(truncateLine('é'.repeat(8), 11)).toBe(`${'é'.repeat(5)} …[+6 bytes]`);
    expect(truncateLine('😀😀', 5)).toBe('😀 …[+4 bytes]');
  });

  it('alerts carry lines cut to max_line_bytes', () => {
    const s = sim('count_over_time({job="talos-kernel"}[1m]) > 0', { ...ON, maxLineBytes: 16 });
    s.ingest(ev(T0 + S, `panic: ${'z'.repeat(100)}`));
    expect(lines(alertOf(s))).toEqual([`panic: ${'z'.repeat(9)} …[+91 bytes]`]);
  });

  it('a ring per series of K entries whatever the match rate; rings are freed when their lines leave the window', () => {
    const s = sim('sum(count_over_time({job="talos-kernel"}[1m])) > 0', { ...ON, maxLines: 2 });
    for (let i = 0; i < 5000; i++) s.engine.ingest(ev(T0 + S + (i % 1000), `line ${i}`, { host: `h${i % 4}` }));
    s.engine.flush();
    const store = s.engine.loadedRules()[0]!.evidence!;
    expect(store.seriesCount).toBe(4);
    s.advanceTo(T0 + 2 * S);
    expect(lines(alertOf(s))).toHaveLength(2);
    s.advanceTo(T0 + 2 * M);
    expect(store.seriesCount).toBe(0);
  });

  it('refuses rings beyond MAX_EVIDENCE_SERIES per leg and counts it', () => {
    const store = new EvidenceStore([60_000], { maxLines: 1, maxLineBytes: 10 });
    for (let i = 0; i <= MAX_EVIDENCE_SERIES; i++) {
      const e = ev(T0, `l${i}`, { host: `h${i}` });
      store.record(0, e, e.stream.key, e.stream.labels);
    }
    expect(store.seriesCount).toBe(MAX_EVIDENCE_SERIES);
    expect(store.seriesRefused).toBe(1);
  });
});

describe('annotations and $lines', () => {
  it('the opt-in annotation carries the lines; $lines works in rule templates', () => {
    const extra = '        annotations:\n          summary: "{{ $labels.host }}: {{ $lines }}"\n';
    const s = sim('sum by (host) (count_over_time({job="talos-kernel"} |= "error" [5m])) > 0', { ...ON, annotation: 'log_lines' }, extra);
    s.ingest(ev(T0 + 1 * S, 'error one', { host: 'a' }));
    s.ingest(ev(T0 + 2 * S, 'error two', { host: 'a' }));
    s.advanceTo(T0 + 3 * S);
    const a = alertOf(s, { host: 'a' });
    const text = formatEvidence(a.evidence!);
    expect(a.annotations.log_lines).toBe(text);
    expect(text).toBe(
      `${new Date(T0 + S).toISOString()} {host="a", job="talos-kernel", level="error", talos_service="kernel"} error one\n` +
        `${new Date(T0 + 2 * S).toISOString()} {host="a", job="talos-kernel", level="error", talos_service="kernel"} error two`,
    );
    expect(a.annotations.summary).toBe(`a: ${text}`);
  });
});

describe('evidence text', () => {
  it('is the same for the same lines, made once per evidence array, and follows new arrays', () => {
    const lines = [
      { timeMs: T0, line: 'error one', labels: { host: 'a' } },
      { timeMs: T0 + 1, line: 'error two', labels: { host: 'a' } },
    ];
    const text = formatEvidence(lines);
    expect(text).toBe(`${new Date(T0).toISOString()} {host="a"} error one\n${new Date(T0 + 1).toISOString()} {host="a"} error two`);
    expect(formatEvidence(lines)).toBe(text);
    expect(formatEvidence([...lines])).toBe(text);
    expect(formatEvidence([lines[1]!])).toBe(`${new Date(T0 + 1).toISOString()} {host="a"} error two`);
    expect(formatEvidence([])).toBe('');
  });
});

describe('state file and API', () => {
  it('evidence survives a snapshot and restore, and the alerts API shows it', async () => {
    const expr = 'sum by (host) (count_over_time({job="talos-kernel"} |= "error" [5m])) > 0';
    const s = sim(expr);
    s.ingest(ev(T0 + 1 * S, 'error a', { host: 'a' }));
    s.advanceTo(T0 + 2 * S);
    const snap = validateSnapshot(JSON.parse(JSON.stringify(s.engine.snapshot())));
    const s2 = sim(expr);
    expect(s2.engine.restore(snap)).toBe(1);
    expect(lines(alertOf(s2, { host: 'a' }))).toEqual(['error a']);

    const bad = JSON.parse(JSON.stringify(s.engine.snapshot()));
    bad.rules[0].alerts[0].evidence = [{ timeMs: 'x', line: 1, labels: {} }];
    expect(() => validateSnapshot(bad)).toThrow(/evidence/);

    const app = Fastify();
    await app.register(rulesApiRoutes, { engine: s2.engine });
    const r = await app.inject({ method: 'GET', url: '/api/v1/alerts' });
    const alert = r.json().data.alerts[0];
    expect(alert.evidence).toEqual([{ time: new Date(T0 + S).toISOString(), line: 'error a', labels: { host: 'a', job: 'talos-kernel', level: 'error', talos_service: 'kernel' } }]);
    await app.close();

    // After the restart the rings are empty: new lines join the restored ones while those are in the window.
    s2.ingest(ev(T0 + 3 * S, 'error a again', { host: 'a' }));
    s2.advanceTo(T0 + 4 * S);
    expect(lines(alertOf(s2, { host: 'a' }))).toEqual(['error a', 'error a again']);
  });
});
