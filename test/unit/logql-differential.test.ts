/**
 * Differential: LogQL pipeline rules over generated Talos records, in the
 * sidecar's incremental engine (RangeSource: per-series buckets on the
 * grid, fed line by line while the clock advances) and in a straightforward
 * evaluator that recomputes every range from all lines at each grid instant
 * with Loki's aggregators (range_vector.go) written out plainly. Results
 * must be identical at every instant (sums and averages up to float
 * summation order: the engine adds per-bucket partial sums).
 */
import { describe, expect, it } from 'vitest';
import type { Grouping, LabelMatcher, RangeAggExpr } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { compileChain } from '../../src/logql/line-filter.js';
import { UnwrapExtractor, compileStages, runStages } from '../../src/logql/pipeline.js';
import { LabelsBuilder } from '../../src/logql/stages/labels-builder.js';
import { parserHintsFor } from '../../src/logql/stages/parser-hints.js';
import { compileLabelRegex } from '../../src/re2/re2.js';
import { extractorGrouping, rangeLeafOf } from '../../src/rules/expr-eval.js';
import { RangeSource } from '../../src/rules/range-source.js';
import { SelectorIndex } from '../../src/rules/selector-index.js';
import { TalosDecoder } from '../../src/talos/decode.js';
import { labelsKey, type LogEvent } from '../../src/log-event.js';
import { records } from '../../src/traffic/records.js';

function generate(seed: number, lineFormat: 'msg' | 'raw'): LogEvent[] {
  const dec = new TalosDecoder({ job: 'talos', lineFormat, hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 1e12, metadata: true });
  const out: LogEvent[] = [];
  for (const r of records({ nodes: 3, ratePerSec: 40, durationMs: 45_000, seed, kernelShare: 0.3 })) {
    const ev = dec.decode(r.json, `10.0.0.${r.node + 1}`, r.timeMs);
    if (typeof ev !== 'string') out.push(ev);
  }
  return out;
}

// ---------------------------------------------------------------- reference

interface Point {
  ms: number;
  ns: number;
  order: number;
  value: number;
  labels: Record<string, string>;
}

function matches(m: LabelMatcher, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return compileLabelRegex(m.value)(v);
    case '!~':
      return !compileLabelRegex(m.value)(v);
  }
}

/** Every line's outcome, once: the pipeline does not depend on the instant. */
function referencePoints(expr: RangeAggExpr, pushed: Grouping | undefined, events: LogEvent[]): Point[] {
  const chain = compileChain(expr.selector.filters);
  const stages = compileStages(expr.selector.stages);
  const unwrap = expr.unwrap !== undefined ? new UnwrapExtractor(expr.unwrap) : undefined;
  let grouping = expr.grouping ?? pushed;
  if (expr.unwrap !== undefined && (grouping === undefined || grouping.without)) {
    grouping = { without: true, labels: [...(grouping?.labels ?? []), expr.unwrap.label] };
  }
  const lb = new LabelsBuilder();
  // Loki's parser hints are semantics (what is extracted, which errors arise): same rules, tested in logql-stages.
  lb.hints = parserHintsFor(expr.selector.stages, expr.unwrap, expr.grouping ?? pushed, expr.fn);
  const pts: Point[] = [];
  events.forEach((ev, order) => {
    if (!expr.selector.matchers.every((m) => matches(m, ev.stream.labels))) return;
    if (!chain.test(ev.line)) return;
    lb.reset(ev.stream.labels, ev.metadata);
    const line = runStages(stages, ev.line, lb, ev);
    if (line === undefined) return;
    let value = Buffer.byteLength(line);
    if (unwrap !== undefined) {
      const v = unwrap.extract(lb);
      if (v === undefined) return;
      value = v;
    }
    pts.push({ ms: ev.timeMs, ns: ev.timeNsRem, order, value, labels: lb.grouped(grouping) });
  });
  return pts;
}

/** (t−d, t] with nanosecond event times. */
function inRange(p: Point, tMs: number, dMs: number): boolean {
  const lo = tMs - dMs;
  const afterStart = p.ms > lo || (p.ms === lo && p.ns > 0);
  const atOrBeforeEnd = p.ms < tMs || (p.ms === tMs && p.ns === 0);
  return afterStart && atOrBeforeEnd;
}

function aggregate(fn: RangeAggExpr['fn'], param: number | undefined, pts: Point[], tMs: number, dMs: number, unwrapped: boolean): number {
  const vs = pts.map((p) => p.value);
  const sec = dMs / 1000;
  switch (fn) {
    case 'count_over_time':
      return vs.length;
    case 'rate':
      return unwrapped ? vs.reduce((a, b) => a + b, 0) / sec : vs.length / sec;
    case 'bytes_over_time':
    case 'sum_over_time':
      return vs.reduce((a, b) => a + b, 0);
    case 'bytes_rate':
      return vs.reduce((a, b) => a + b, 0) / sec;
    case 'avg_over_time': {
      let mean = 0;
      let n = 0;
      for (const v of vs) {
        n++;
        mean += v / n - mean / n;
      }
      return mean;
    }
    case 'min_over_time':
      return vs.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a));
    case 'max_over_time':
      return vs.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a));
    case 'first_over_time':
      return vs[0]!;
    case 'last_over_time':
      return vs[vs.length - 1]!;
    case 'stdvar_over_time':
    case 'stddev_over_time': {
      let aux = 0;
      let n = 0;
      let mean = 0;
      for (const v of vs) {
        n++;
        const delta = v - mean;
        mean += delta / n;
        aux += delta * (v - mean);
      }
      return fn === 'stdvar_over_time' ? aux / n : Math.sqrt(aux / n);
    }
    case 'quantile_over_time': {
      const q = param!;
      const s = [...vs].sort((a, b) => a - b);
      const rank = q * (s.length - 1);
      const lo = Math.max(0, Math.floor(rank));
      const hi = Math.min(s.length - 1, lo + 1);
      const w = rank - Math.floor(rank);
      return s[lo]! * (1 - w) + s[hi]! * w;
    }
    default:
      throw new Error(`no reference for ${fn}`);
  }
}

function reference(expr: RangeAggExpr, pts: Point[], tMs: number): Map<string, number> | 'error' {
  const groups = new Map<string, Point[]>();
  for (const p of pts) {
    if (!inRange(p, tMs, expr.rangeMs)) continue;
    const k = labelsKey(p.labels);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = []));
    g.push(p);
  }
  const out = new Map<string, number>();
  for (const [k, g] of groups) {
    if (Object.hasOwn(g[0]!.labels, '__error__') && g[0]!.labels.__preserve_error__ !== 'true') return 'error';
    g.sort((a, b) => a.ms - b.ms || a.ns - b.ns || a.order - b.order);
    out.set(k, aggregate(expr.fn, expr.param, g, tMs, expr.rangeMs, expr.unwrap !== undefined));
  }
  return out;
}

// ---------------------------------------------------------------- engine

function engineAt(src: RangeSource, T: number): Map<string, number> | 'error' {
  try {
    return new Map(src.evaluate(T).map((s) => [labelsKey(s.labels), s.value]));
  } catch (e) {
    if ((e as Error).name === 'PipelineError') return 'error';
    throw e;
  }
}

const INEXACT = new Set(['sum_over_time', 'avg_over_time', 'rate', 'bytes_over_time', 'bytes_rate']);

function compare(query: string, events: LogEvent[]): number {
  const expr = parseExpr(query);
  const leaf = rangeLeafOf(expr);
  const pushed = extractorGrouping(expr);
  const pts = referencePoints(leaf, pushed, events);
  const src = new RangeSource(leaf, pushed);
  // The engine's own path: stream selector and hoisted line filters through the shared index.
  const index = new SelectorIndex([leaf.selector]);
  const hit: number[] = [];
  const sorted = [...events].sort((a, b) => a.timeMs - b.timeMs || a.timeNsRem - b.timeNsRem);
  const g = src.stepMs;
  const first = Math.floor(sorted[0]!.timeMs / g);
  const last = Math.ceil(sorted[sorted.length - 1]!.timeMs / g) + leaf.rangeMs / g + 1;
  let i = 0;
  let lastT = -Infinity;
  let compared = 0;
  for (let T = first; T <= last; T++) {
    // Lines up to this instant arrive, then the engine evaluates (as RuleEngine.flush does).
    while (i < sorted.length && src.gridAtOrAfter(sorted[i]!.timeMs + (sorted[i]!.timeNsRem > 0 ? 1 : 0)) <= T) {
      const ev = sorted[i++]!;
      if (index.match(ev, hit) > 0) src.add(ev, lastT);
    }
    const got = engineAt(src, T);
    lastT = T;
    const want = reference(leaf, pts, T * g);
    if (want === 'error' || got === 'error') {
      expect(got, `${query} at T=${T}`).toEqual(want);
      continue;
    }
    expect([...got.keys()].sort(), `${query} at T=${T}`).toEqual([...want.keys()].sort());
    for (const [k, v] of want) {
      const e = got.get(k)!;
      if (INEXACT.has(leaf.fn) && Number.isFinite(v)) expect(Math.abs(e - v), `${query} ${k} at T=${T}`).toBeLessThanOrEqual(Math.abs(v) * 1e-12);
      else expect(e, `${query} ${k} at T=${T}`).toBe(v);
      compared++;
    }
  }
  return compared;
}

const RAW_QUERIES = [
  'sum by (talos_service) (count_over_time({job="talos"} | json | __error__="" [10s]))',
  'count_over_time({job="talos", talos_service!="kernel"} | json | keep talos_service, level, caller [10s])',
  'sum by (caller) (sum_over_time({talos_service="etcd"} | json | unwrap duration(took) | __error__="" [10s]))',
  'quantile_over_time(0.9, {talos_service="etcd"} | json | unwrap duration(took) | __error__="" [20s]) by (caller)',
  'max_over_time({talos_service="etcd"} | json | unwrap duration(took) | __error__="" [10s]) by (host)',
  'min_over_time({talos_service="etcd"} | json | unwrap duration(took) | __error__="" [10s]) by (host)',
  'avg_over_time({talos_service="etcd"} | json | unwrap duration(took) | __error__="" [10s]) by (host)',
  'stddev_over_time({talos_service="etcd"} | json | unwrap duration(took) | __error__="" [10s]) by (host)',
  'first_over_time({talos_service="etcd"} | json | unwrap duration(took) | __error__="" [10s]) by (host)',
  'last_over_time({talos_service="etcd"} | json | unwrap duration(took) | __error__="" [10s]) by (host)',
  'sum by (host) (rate({talos_service="kubelet"} | json | line_format "{{.caller}} {{.msg}}" |~ "pod_workers|cri_stats" [10s]))',
  'sum by (level) (bytes_over_time({job="talos"} | json | __error__="" | line_format "{{.msg}}" [10s]))',
  'sum by (lvl) (count_over_time({job="talos"} | json lvl="[\\"talos-level\\"]", svc="[\\"talos-service\\"]" | svc=~"etcd|containerd" [10s]))',
];

const MSG_QUERIES = [
  'sum by (caller) (count_over_time({talos_service="etcd"} | took > 200ms [10s]))',
  'sum by (caller) (sum_over_time({talos_service="etcd"} | unwrap duration(took) [10s]))',
  'sum by (facility, priority) (count_over_time({talos_service="kernel"} | priority=~"err|warning" or facility="daemon" [10s]))',
  'sum by (namespace) (count_over_time({talos_service="containerd"} | logfmt | namespace!="" [10s]))',
  'sum by (status) (count_over_time({talos_service="machined"} |= "machined OK" | pattern "<_> OK [<_>] <_> <_> <status>" [10s]))',
  'sum by (path) (count_over_time({talos_service="machined"} | regexp "MachineService/(?P<path>\\\\w+)" [10s]))',
  'sum by (level) (rate({talos_service="kubelet"} | decolorize | label_format level="{{ upper .level }}" [10s]))',
];

describe('engine vs straightforward evaluator on generated Talos records', () => {
  for (const seed of [1, 7]) {
    const raw = generate(seed, 'raw');
    const msg = generate(seed, 'msg');
    it.each(RAW_QUERIES)(`seed ${seed}, raw lines: %s`, (q) => {
      expect(compare(q, raw)).toBeGreaterThan(0);
    });
    it.each(MSG_QUERIES)(`seed ${seed}, msg lines + structured metadata: %s`, (q) => {
      expect(compare(q, msg)).toBeGreaterThan(0);
    });
  }
});
