/**
 * A rule's alert labels are kept per series between evaluations (the
 * line-triggered evaluation must not redo O(alerts) string work). What the
 * alerts look like must not change: value-dependent label templates still
 * follow the value, static ones and aggregation groups keep one alert, and
 * a label set that collapses after templating is still refused.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/rules/simulate.js';
import { aggregate } from '../../src/rules/instant-vector.js';
import { T0, alertSet, ev, oneRule } from '../helpers/timeline.js';

const S = 1000;

describe('alert labels across evaluations', () => {
  it('a label template that reads $value moves the alert to a new label set when the value moves', () => {
    const s = new Simulation(
      oneRule('sum by (host) (count_over_time({job="talos-kernel"} |= "error" [5m])) > 0', '        labels:\n          level: "{{ if gt $value 2.0 }}high{{ else }}low{{ end }}"\n'),
      T0,
    );
    s.ingest(ev(T0 + 1 * S, 'error 1', { host: 'a' }));
    s.advanceTo(T0 + 2 * S);
    expect(alertSet(s)).toEqual(['A{host=a,level=low}=firing']);
    s.ingest(ev(T0 + 3 * S, 'error 2', { host: 'a' }));
    s.ingest(ev(T0 + 4 * S, 'error 3', { host: 'a' }));
    s.advanceTo(T0 + 5 * S);
    expect(alertSet(s)).toEqual(['A{host=a,level=high}=firing']);
  });

  it('static rule labels: one alert per host however often it is evaluated, with the value kept current', () => {
    const s = new Simulation(oneRule('sum by (host) (count_over_time({job="talos-kernel"} |= "error" [5m])) > 0', '        labels:\n          severity: critical\n'), T0);
    for (let i = 0; i < 20; i++) {
      s.ingest(ev(T0 + i * S, `error ${i}`, { host: `h${i % 4}` }));
      s.advanceTo(T0 + i * S + 500);
    }
    expect(alertSet(s)).toEqual(['h0', 'h1', 'h2', 'h3'].map((h) => `A{host=${h},severity=critical}=firing`));
    const values = s.engine.alerts().map(({ alert }) => alert.value);
    expect(values).toEqual([5, 5, 5, 5]);
  });

  it('two series that collapse into one label set after templating still fail the rule', () => {
    const s = new Simulation(oneRule('count_over_time({job="talos-kernel"} |= "error" [5m]) > 0', '        labels:\n          host: same\n'), T0);
    s.ingest(ev(T0 + 1 * S, 'error 1', { host: 'a' }));
    s.advanceTo(T0 + 2 * S);
    expect(s.engine.loadedRules()[0]!.health).toBe('ok');
    s.ingest(ev(T0 + 3 * S, 'error 2', { host: 'b' }));
    s.advanceTo(T0 + 4 * S);
    expect(s.engine.loadedRules()[0]!.health).toBe('err');
    expect(s.engine.loadedRules()[0]!.lastError).toMatch(/same labelset/);
  });
});

describe('aggregation groups', () => {
  it('frozen series labels keep one group labels object across evaluations; unfrozen ones get equal labels', () => {
    const a = Object.freeze({ host: 'a', unit: 'x' });
    const b = Object.freeze({ host: 'a', unit: 'y' });
    const grouping = { without: false, labels: ['host'] };
    const first = aggregate('sum', grouping, [{ labels: a, value: 1 }, { labels: b, value: 2 }]);
    const second = aggregate('sum', grouping, [{ labels: a, value: 3 }, { labels: b, value: 4 }]);
    expect(first).toEqual([{ labels: { host: 'a' }, value: 3 }]);
    expect(second).toEqual([{ labels: { host: 'a' }, value: 7 }]);
    expect(second[0]!.labels).toBe(first[0]!.labels);
    const loose = aggregate('sum', grouping, [{ labels: { host: 'a', unit: 'z' }, value: 5 }]);
    expect(loose).toEqual([{ labels: { host: 'a' }, value: 5 }]);
    // without(): the same input under another grouping gets its own groups.
    expect(aggregate('sum', { without: true, labels: ['host'] }, [{ labels: a, value: 1 }, { labels: b, value: 2 }]).map((x) => x.labels)).toEqual([{ unit: 'x' }, { unit: 'y' }]);
  });
});

describe('flat strings', () => {
  it('returns the same text', async () => {
    const { flat } = await import('../../src/rules/flat-string.js');
    let s = '';
    for (let i = 0; i < 50; i++) s += `k${i}\u0000v${i}\u0001`;
    const copy = `${s}`;
    expect(flat(s)).toBe(copy);
    expect(flat('')).toBe('');
    expect(flat('__proto__')).toBe('__proto__');
  });
});

describe('annotations after line-triggered evaluations', () => {
  const rule = (forDur: string): ReturnType<typeof oneRule> =>
    oneRule('sum by (host) (count_over_time({job="talos-kernel"} |= "error" [5s])) > 0', `        for: ${forDur}\n        annotations:\n          summary: "value={{ $value }}"\n`);

  it('a moved value is rendered by the next timer evaluation, not by every line', () => {
    const s = new Simulation(rule('0s'), T0);
    s.ingest(ev(T0 + 100, 'error 1', { host: 'a' }));
    const alert = (): { summary: string | undefined; value: number } => {
      const a = s.engine.alerts()[0]!.alert;
      return { summary: a.annotations.summary, value: a.value };
    };
    expect(alert()).toEqual({ summary: 'value=1', value: 1 });
    s.ingest(ev(T0 + 200, 'error 2', { host: 'a' }));
    s.ingest(ev(T0 + 300, 'error 3', { host: 'a' }));
    expect(alert()).toEqual({ summary: 'value=1', value: 3 });
    s.advanceTo(T0 + 1000);
    expect(alert()).toEqual({ summary: 'value=3', value: 3 });
  });

  it('every firing and resolved change carries the annotations of the value it reports', () => {
    const s = new Simulation(rule('2s'), T0);
    for (let i = 0; i < 60; i++) {
      // Bursts every few seconds, lines 150 ms apart: values move between ticks, alerts fire and resolve.
      if (i % 20 < 12) s.ingest(ev(T0 + i * 150 + Math.floor(i / 20) * 9000, `error ${i}`, { host: i % 3 === 0 ? 'a' : 'b' }));
    }
    s.finish();
    const emitted = s.changes.filter((c) => c.kind === 'firing' || c.kind === 'resolved');
    expect(emitted.filter((c) => c.kind === 'firing').length).toBeGreaterThan(2);
    expect(emitted.filter((c) => c.kind === 'resolved').length).toBeGreaterThan(2);
    for (const c of emitted) expect(c.alert.annotations.summary, `${c.kind} at ${c.atMs - T0}`).toBe(`value=${c.alert.value}`);
  });
});
