/**
 * Issue #18: the log query behind a rule, and the links that open it over an
 * alert's window (Grafana Explore `panes` state, Loki query_range) decode to
 * the right query and time range.
 */
import { describe, expect, it } from 'vitest';
import { parseExpr } from '../../src/logql/parse.js';
import { logQueriesOf } from '../../src/rules/evidence-query.js';
import { evidenceLink, grafanaExploreLogsLink, lokiQueryRangeLink } from '../../src/sinks/alertmanager/generator-url.js';

const q = (expr: string) => logQueriesOf(expr, parseExpr(expr));

describe('the log query of a rule', () => {
  it.each([
    ['count_over_time({job="talos-kernel"} |= "BTRFS" [5m]) > 0', ['{job="talos-kernel"} |= "BTRFS"']],
    ['sum by (host) (rate({job="talos-kernel"} |~ "(?i)i/o [e]rror\\\\)" [1m]))', ['{job="talos-kernel"} |~ "(?i)i/o [e]rror\\\\)"']],
    ['quantile_over_time(0.99, {job="a"} | json | unwrap duration(lat) | __error__="" [5m]) by (host) > 1', ['{job="a"} | json']],
    ['sum(rate({job="a"} |= "x" [1m] offset 5m)) / sum(rate({job="b"}[1h]))', ['{job="a"} |= "x"', '{job="b"}']],
    ['count_over_time({job="a"}[5m] |= "x")', ['{job="a"} |= "x"']],
    ['count_over_time({job="a"} | logfmt | line_format `{{.msg}}` [5m])', ['{job="a"} | logfmt | line_format `{{.msg}}`']],
  ])('%s', (expr, want) => {
    expect(q(expr).map((l) => l.query)).toEqual(want);
  });

  it('each leg looks back its range plus offset', () => {
    expect(q('sum(rate({job="a"}[1m] offset 5m)) / sum(rate({job="b"}[1h]))').map((l) => l.lookbackMs)).toEqual([360_000, 3_600_000]);
  });
});

describe('links over the alert window', () => {
  const legs = q('sum by (host) (count_over_time({job="talos-kernel"} |= "oom" [5m])) / sum by (host) (count_over_time({job="talos-kernel"} [1m]))');
  const activeAt = Date.UTC(2026, 0, 1, 12, 0, 0);
  const resolvedAt = activeAt + 90_000;

  it('Explore: every leg as a query, from activeAt − the longest range to resolvedAt', () => {
    const url = new URL(evidenceLink({ link: 'explore', grafanaUrl: 'https://g.example/grafana/', lokiUrl: '', datasourceUid: '' }, legs, activeAt, resolvedAt));
    expect(url.pathname).toBe('/grafana/explore');
    const panes = JSON.parse(url.searchParams.get('panes')!);
    const pane = Object.values(panes)[0] as { queries: Array<{ refId: string; expr: string }>; range: { from: string; to: string }; datasource?: string };
    expect(pane.queries.map((x) => [x.refId, x.expr])).toEqual([
      ['A', '{job="talos-kernel"} |= "oom"'],
      ['B', '{job="talos-kernel"}'],
    ]);
    expect(pane.range).toEqual({ from: String(activeAt - 300_000), to: String(resolvedAt) });
    expect(pane.datasource).toBeUndefined();
  });

  it('Loki: query_range on the first log query, start/end in nanoseconds', () => {
    const url = new URL(evidenceLink({ link: 'loki', grafanaUrl: '', lokiUrl: 'http://loki:3100/', datasourceUid: '' }, legs, activeAt, resolvedAt));
    expect(url.pathname).toBe('/loki/api/v1/query_range');
    expect(url.searchParams.get('query')).toBe('{job="talos-kernel"} |= "oom"');
    expect(BigInt(url.searchParams.get('start')!)).toBe(BigInt(activeAt - 300_000) * 1_000_000n);
    expect(BigInt(url.searchParams.get('end')!)).toBe(BigInt(resolvedAt) * 1_000_000n);
    expect(url.searchParams.get('direction')).toBe('backward');
  });

  it('ruler mode or a missing URL: no evidence link (the caller keeps Loki\'s link)', () => {
    expect(evidenceLink({ link: 'ruler', grafanaUrl: 'https://g', lokiUrl: 'http://l', datasourceUid: '' }, legs, activeAt, resolvedAt)).toBe('');
    expect(evidenceLink({ link: 'explore', grafanaUrl: '', lokiUrl: 'http://l', datasourceUid: '' }, legs, activeAt, resolvedAt)).toBe('');
  });

  it('special characters survive the round trip', () => {
    const expr = '{job="a"} |= "a&b <c> +%"';
    const e = new URL(grafanaExploreLogsLink('https://g', [expr], { fromMs: 1, toMs: 2 }, 'uid'));
    expect((Object.values(JSON.parse(e.searchParams.get('panes')!))[0] as { queries: Array<{ expr: string }> }).queries[0]!.expr).toBe(expr);
    expect(new URL(lokiQueryRangeLink('http://l', expr, { fromMs: 1, toMs: 2 })).searchParams.get('query')).toBe(expr);
  });
});
