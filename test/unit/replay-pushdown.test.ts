/** replay --loki-url: which log queries a rule set needs (selectors + line filters pushed down). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogSelector } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { formatLogQuery, historyQueries, logSelectorsOf } from '../../src/replay/pushdown.js';

function selectorOf(logQuery: string): LogSelector {
  return (parseExpr(`count_over_time(${logQuery} [1m])`) as unknown as { selector: LogSelector }).selector;
}

const strip = (s: LogSelector) => ({
  matchers: s.matchers.map((m) => ({ name: m.name, op: m.op, value: m.value })).sort((a, b) => a.name.localeCompare(b.name)),
  filters: s.filters.map((f) => ({ op: f.op, values: f.values })),
});

async function rulesFrom(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tas-pushdown-'));
  writeFileSync(join(dir, 'r.yaml'), yaml);
  return loadRuleSet([join(dir, 'r.yaml')], { unsupported: 'error' });
}

describe('pushdown', () => {
  it('writes a log query the parser reads back to the same selector and filters (quotes, backslashes, or-values, regex)', () => {
    const original = selectorOf('{job="talos-kernel", host=~"10\\\\.0\\\\..+", level!="info"} |= "say \\"hi\\"" or "tab\\there" != "noise" |~ "nvme\\\\d+: I/O" !~ "(?i)abort"');
    const text = formatLogQuery(original);
    expect(text).toBe('{host=~"10\\\\.0\\\\..+", job="talos-kernel", level!="info"} |= "say \\"hi\\"" or "tab\\there" != "noise" |~ "nvme\\\\d+: I/O" !~ "(?i)abort"');
    expect(strip(selectorOf(text))).toEqual(strip(original));
  });

  it('finds every selector in a tree, whatever the node kinds (vector-vector operations, several range aggregations)', () => {
    const a = selectorOf('{job="a"} |= "x"');
    const b = selectorOf('{job="b"}');
    // A shape the engine's AST may grow (binary of two range aggregations inside an aggregation).
    const tree = { type: 'vector_agg', inner: { type: 'binary', lhs: { type: 'range', selector: a }, rhs: { type: 'label_replace', inner: { type: 'range', selector: b } } } };
    expect(logSelectorsOf(tree)).toEqual([a, b]);
  });

  it('pushes only the filters on the line as stored: pipeline stages stay local', () => {
    const sel = { ...selectorOf('{job="a"} |= "error"'), stages: [{ k: 'json' }, { k: 'line_filter', filter: { op: '|=', values: ['after-json'] } }] };
    const [found] = logSelectorsOf({ type: 'range', selector: sel });
    expect(formatLogQuery(found!)).toBe('{job="a"} |= "error"');
  });

  it('fetches once per distinct selector + filters; a filter-less query on the same matchers subsumes the filtered ones', async () => {
    const rules = await rulesFrom(`groups:
  - name: g
    rules:
      - alert: OOM
        expr: sum(count_over_time({job="talos-kernel"} |= "Out of memory" [5m])) > 0
      - alert: OOMByHost
        expr: sum by (host) (count_over_time({ job = "talos-kernel" } |= "Out of memory" [10m])) > 0
      - alert: Nvme
        expr: count_over_time({talos_service="kernel", job="talos-kernel"} |~ "nvme.*timeout" [5m]) > 2
      - alert: AnyKernel
        expr: sum(count_over_time({talos_service="kernel", job="talos-kernel"}[1m])) > 1000
      - alert: Etcd
        expr: sum(count_over_time({talos_service="etcd"} |= "slow" [1m])) > 3
      - alert: EtcdSlowShare
        expr: sum(count_over_time({talos_service="etcd"} |= "slow" [5m])) / sum(count_over_time({talos_service="etcd", level="warn"} [5m])) > 0.5
`);
    const qs = historyQueries(rules);
    expect(qs.map((q) => [q.logql, q.rules])).toEqual([
      ['{job="talos-kernel"} |= "Out of memory"', ['OOM', 'OOMByHost']],
      ['{job="talos-kernel", talos_service="kernel"}', ['AnyKernel', 'Nvme']],
      ['{talos_service="etcd"} |= "slow"', ['Etcd', 'EtcdSlowShare']],
      ['{level="warn", talos_service="etcd"}', ['EtcdSlowShare']],
    ]);
  });
});
