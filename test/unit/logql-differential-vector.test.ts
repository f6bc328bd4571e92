/**
 * Differential test for issue #14: the engine (line dispatch → several
 * RangeSources per rule → sliding windows → vector algebra) against an
 * independent, deliberately naive evaluator that keeps every line and
 * recomputes each range from scratch at each instant, with its own
 * quadratic vector matching. Random lines (with exact duplicates, as a
 * Talos ring-buffer replay sends them) and random expressions over two
 * ranges, offsets, aggregations, binary and set operations with
 * on/ignoring/group_left/bool must give the same samples — or both fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuleEngine } from '../../src/rules/engine.js';
import { resultSamples } from '../../src/rules/expr-eval.js';
import { LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { T0, oneRule } from '../helpers/timeline.js';

const S = 1000;
type Labels = Record<string, string>;
interface Smp {
  labels: Labels;
  value: number;
}
const sets = new LabelSetCache();

// ---- the expression generator: a tiny typed grammar, rendered as LogQL ----

interface Leaf {
  fn: 'count_over_time' | 'rate' | 'bytes_over_time' | 'absent_over_time';
  host: string | undefined;
  filter: string | undefined;
  rangeS: number;
  offsetS: number;
}
type Node =
  | { k: 'leaf'; leaf: Leaf }
  | { k: 'agg'; op: string; by: readonly string[] | undefined; without: boolean; inner: Node }
  | { k: 'bin'; op: string; bool: boolean; on: readonly string[] | undefined; ignoring: readonly string[] | undefined; groupLeft: boolean; lhs: Node; rhs: Node }
  | { k: 'lit'; op: string; value: number; left: boolean; inner: Node };

function render(n: Node): string {
  switch (n.k) {
    case 'leaf': {
      const l = n.leaf;
      const sel = `{job="talos-kernel"${l.host ? `, host="${l.host}"` : ''}}${l.filter ? ` |= "${l.filter}"` : ''}`;
      return `${l.fn}(${sel} [${l.rangeS}s]${l.offsetS ? ` offset ${l.offsetS}s` : ''})`;
    }
    case 'agg':
      return `${n.op} ${n.by ? `${n.without ? 'without' : 'by'} (${n.by.join(', ')}) ` : ''}(${render(n.inner)})`;
    case 'bin': {
      const mod = `${n.bool ? ' bool' : ''}${n.on ? ` on(${n.on.join(',')})` : n.ignoring ? ` ignoring(${n.ignoring.join(',')})` : ''}${n.groupLeft ? ' group_left' : ''}`;
      // After group_left a "(" opens the label list (Loki's grammar too), so the right leg goes bare (it is an aggregation or a range).
      return `(${render(n.lhs)}) ${n.op}${mod} ${n.groupLeft ? render(n.rhs) : `(${render(n.rhs)})`}`;
    }
    case 'lit':
      return n.left ? `${n.value} ${n.op} (${render(n.inner)})` : `(${render(n.inner)}) ${n.op} ${n.value}`;
  }
}

const leafArb: fc.Arbitrary<Node> = fc
  .record({
    fn: fc.constantFrom('count_over_time', 'count_over_time', 'rate', 'bytes_over_time', 'absent_over_time') as fc.Arbitrary<Leaf['fn']>,
    host: fc.constantFrom(undefined, undefined, 'n1'),
    filter: fc.constantFrom(undefined, 'err', 'a'),
    rangeS: fc.constantFrom(10, 30, 60),
    offsetS: fc.constantFrom(0, 10, 40),
  })
  .map((leaf) => ({ k: 'leaf', leaf }));

const aggArb: fc.Arbitrary<Node> = fc
  .record({
    op: fc.constantFrom('sum', 'count', 'min', 'max', 'avg', 'stddev', 'stdvar'),
    by: fc.constantFrom(undefined, ['host'], ['level'], ['host', 'level'], []),
    without: fc.boolean(),
    inner: leafArb,
  })
  .map((a) => ({ k: 'agg', ...a }));

const operand = fc.oneof(aggArb, aggArb, leafArb);
const binArb: fc.Arbitrary<Node> = fc
  .record({
    op: fc.constantFrom('+', '-', '*', '/', '%', '>', '<', '==', '!=', 'and', 'or', 'unless'),
    bool: fc.boolean(),
    match: fc.constantFrom('none', 'on-host', 'on-none', 'ignoring-level', 'left-on-host'),
    lhs: operand,
    rhs: operand,
  })
  .map(({ op, bool, match, lhs, rhs }) => {
    const setOp = op === 'and' || op === 'or' || op === 'unless';
    const cmp = ['>', '<', '==', '!='].includes(op);
    return {
      k: 'bin',
      op,
      bool: bool && cmp,
      on: match === 'on-host' || match === 'left-on-host' ? ['host'] : match === 'on-none' ? [] : undefined,
      ignoring: match === 'ignoring-level' ? ['level'] : undefined,
      groupLeft: match === 'left-on-host' && !setOp,
      lhs,
      rhs,
    } as Node;
  });
const exprArb: fc.Arbitrary<Node> = fc.oneof(
  binArb,
  binArb,
  aggArb,
  fc
    .record({ op: fc.constantFrom('/', '>', '<', '*', '%'), value: fc.constantFrom(0, 1, 2), left: fc.boolean(), inner: fc.oneof(binArb, aggArb) })
    .map((l) => ({ k: 'lit', ...l }) as Node),
);

// ---- the naive reference evaluator ----

interface Line {
  timeMs: number;
  ns: number;
  host: string;
  level: string;
  line: string;
}

/** (t−o−d, t−o] with nanosecond times: start exclusive, end inclusive. */
function inRange(l: Line, endMs: number, rangeMs: number): boolean {
  const afterStart = l.timeMs > endMs - rangeMs || (l.timeMs === endMs - rangeMs && l.ns > 0);
  const atOrBeforeEnd = l.timeMs < endMs || (l.timeMs === endMs && l.ns === 0);
  return afterStart && atOrBeforeEnd;
}

function streamLabels(l: Line): Labels {
  return { job: 'talos-kernel', host: l.host, talos_service: 'kernel', level: l.level };
}

function key(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).filter((k) => labels[k] !== '').sort().map((k) => [k, labels[k]]));
}

function refLeaf(leaf: Leaf, lines: Line[], t: number): Smp[] {
  const byStream = new Map<string, { labels: Labels; count: number; bytes: number }>();
  for (const l of lines) {
    if (leaf.host !== undefined && l.host !== leaf.host) continue;
    if (leaf.filter !== undefined && !l.line.includes(leaf.filter)) continue;
    if (!inRange(l, t - leaf.offsetS * S, leaf.rangeS * S)) continue;
    const labels = streamLabels(l);
    const k = key(labels);
    const g = byStream.get(k) ?? { labels, count: 0, bytes: 0 };
    g.count++;
    g.bytes += Buffer.byteLength(l.line);
    byStream.set(k, g);
  }
  const gs = [...byStream.values()];
  switch (leaf.fn) {
    case 'count_over_time':
      return gs.map((g) => ({ labels: g.labels, value: g.count }));
    case 'rate':
      return gs.map((g) => ({ labels: g.labels, value: g.count / leaf.rangeS }));
    case 'bytes_over_time':
      return gs.map((g) => ({ labels: g.labels, value: g.bytes }));
    case 'absent_over_time':
      return gs.length > 0 ? [] : [{ labels: leaf.host ? { job: 'talos-kernel', host: leaf.host } : { job: 'talos-kernel' }, value: 1 }];
  }
}

function refAgg(op: string, by: readonly string[] | undefined, without: boolean, v: Smp[]): Smp[] {
  const groups = new Map<string, { labels: Labels; values: number[] }>();
  for (const s of v) {
    const labels: Labels = {};
    if (by !== undefined) {
      for (const [k, val] of Object.entries(s.labels)) if ((without ? !by.includes(k) : by.includes(k)) && val !== '') labels[k] = val;
    }
    const g = groups.get(key(labels)) ?? { labels, values: [] };
    g.values.push(s.value);
    groups.set(key(labels), g);
  }
  return [...groups.values()].map(({ labels, values }) => {
    const n = values.length;
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const value =
      op === 'sum' ? values.reduce((a, b) => a + b, 0)
      : op === 'count' ? n
      : op === 'min' ? Math.min(...values)
      : op === 'max' ? Math.max(...values)
      : op === 'avg' ? mean
      : op === 'stddev' ? Math.sqrt(variance)
      : variance;
    return { labels, value };
  });
}

function sig(labels: Labels, on: readonly string[] | undefined, ignoring: readonly string[] | undefined): string {
  const kept: Labels = {};
  for (const [k, v] of Object.entries(labels)) {
    if (on !== undefined ? on.includes(k) : !(ignoring ?? []).includes(k)) kept[k] = v;
  }
  return key(kept);
}

function arith(op: string, a: number, b: number): number {
  if (op === '+') return a + b;
  if (op === '-') return a - b;
  if (op === '*') return a * b;
  if (op === '/') return b === 0 ? NaN : a / b;
  return b === 0 ? NaN : a % b;
}
function cmp(op: string, a: number, b: number): boolean {
  return op === '>' ? a > b : op === '<' ? a < b : op === '==' ? a === b : a !== b;
}

class RefError extends Error {}

function refBin(n: Extract<Node, { k: 'bin' }>, l: Smp[], r: Smp[]): Smp[] {
  const ls = (s: Smp) => sig(s.labels, n.on, n.ignoring);
  if (n.op === 'and') return l.length && r.length ? l.filter((a) => r.some((b) => ls(b) === ls(a))) : [];
  if (n.op === 'unless') return l.filter((a) => !r.some((b) => ls(b) === ls(a)));
  if (n.op === 'or') return [...l, ...r.filter((b) => !l.some((a) => ls(a) === ls(b)))];
  // The "one" side (right) must have unique signatures.
  for (const b of r) if (r.filter((c) => ls(c) === ls(b)).length > 1) throw new RefError('many-to-many');
  const out: Smp[] = [];
  for (const a of l) {
    const matches = r.filter((b) => ls(b) === ls(a));
    if (matches.length === 0) continue;
    if (!n.groupLeft && l.filter((c) => ls(c) === ls(a)).length > 1) throw new RefError('many-to-one');
    const b = matches[0]!;
    let labels: Labels = { ...a.labels };
    if (!n.groupLeft) {
      labels = {};
      for (const [k, v] of Object.entries(a.labels)) if (n.on !== undefined ? n.on.includes(k) : !(n.ignoring ?? []).includes(k)) labels[k] = v;
    }
    if (['>', '<', '==', '!='].includes(n.op)) {
      const keep = cmp(n.op, a.value, b.value);
      if (n.bool) out.push({ labels, value: keep ? 1 : 0 });
      else if (keep) out.push({ labels, value: a.value });
    } else out.push({ labels, value: arith(n.op, a.value, b.value) });
  }
  // group_left: two "many" samples may not end with the same labels.
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(key(s.labels))) throw new RefError('duplicate result');
    seen.add(key(s.labels));
  }
  return out;
}

function refEval(n: Node, lines: Line[], t: number): Smp[] {
  switch (n.k) {
    case 'leaf':
      return refLeaf(n.leaf, lines, t);
    case 'agg':
      return refAgg(n.op, n.by, n.without, refEval(n.inner, lines, t));
    case 'bin':
      return refBin(n, refEval(n.lhs, lines, t), refEval(n.rhs, lines, t));
    case 'lit':
      return refEval(n.inner, lines, t).flatMap((s) => {
        const [a, b] = n.left ? [n.value, s.value] : [s.value, n.value];
        if (['>', '<'].includes(n.op)) return cmp(n.op, a, b) ? [s] : [];
        return [{ labels: s.labels, value: arith(n.op, a, b) }];
      });
  }
}

// ---- comparison ----

function norm(v: readonly Smp[]): Array<[string, number]> {
  return v.map((s) => [key(s.labels), s.value] as [string, number]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
}

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

const lineArb = fc.record({
  atS: fc.integer({ min: 0, max: 150 }),
  ns: fc.constantFrom(0, 0, 0, 1, 500_000),
  host: fc.constantFrom('n1', 'n2'),
  level: fc.constantFrom('info', 'error'),
  line: fc.constantFrom('err a', 'a', 'b', 'error: disk', 'ok'),
  copies: fc.constantFrom(1, 1, 1, 2),
});

describe('engine vs naive evaluator: vector algebra, several ranges, offset, identical entries', () => {
  it('same samples (or both fail) at every checkpoint', () => {
    fc.assert(
      fc.property(exprArb, fc.array(lineArb, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 8 }), (node, raw, cps) => {
        const expr = render(node);
        let now = T0;
        const engine = new RuleEngine({ tickMs: 1000, resolvedRetentionMs: 0, externalLabels: {}, externalUrl: '', now: () => now, autoFlush: false });
        engine.load(oneRule(expr));
        const rule = engine.loadedRules()[0]!;
        const lines: Line[] = raw
          .flatMap((r) => Array.from({ length: r.copies }, () => ({ timeMs: T0 + r.atS * S, ns: r.ns, host: r.host, level: r.level, line: r.line })))
          .sort((a, b) => a.timeMs - b.timeMs || a.ns - b.ns);
        const seen = new Set<string>();
        const stored: Line[] = [];
        let i = 0;
        for (const cpS of [...new Set(cps)].sort((a, b) => a - b)) {
          const cp = T0 + cpS * S;
          for (; i < lines.length && lines[i]!.timeMs <= cp; i++) {
            const l = lines[i]!;
            now = l.timeMs;
            const ev: LogEvent = { timeMs: l.timeMs, timeNsRem: l.ns, receivedMs: l.timeMs, line: l.line, stream: sets.intern(streamLabels(l)), metadata: undefined, source: 'kernel' };
            engine.ingest(ev);
            engine.flush();
            // The reference keeps an identical entry once too (same stream, nanosecond, line).
            const id = JSON.stringify([l.timeMs, l.ns, l.host, l.level, l.line]);
            if (!seen.has(id)) stored.push(l);
            seen.add(id);
          }
          now = cp;
          let want: Smp[] | 'error';
          try {
            want = refEval(node, stored, cp);
          } catch (e) {
            if (!(e instanceof RefError)) throw e;
            want = 'error';
          }
          let got: Smp[] | 'error';
          try {
            got = resultSamples(rule.source.evaluate(cp / rule.source.stepMs)).map((s) => ({ labels: { ...s.labels }, value: s.value }));
          } catch {
            got = 'error';
          }
          const ctx = `${expr} at +${cpS}s`;
          if (want === 'error' || got === 'error') {
            expect(got === 'error' ? 'error' : norm(got), ctx).toEqual(want === 'error' ? 'error' : norm(want));
            continue;
          }
          const g = norm(got);
          const w = norm(want);
          expect(g.map((x) => x[0]), ctx).toEqual(w.map((x) => x[0]));
          g.forEach((x, j) => expect(close(x[1], w[j]![1]), `${ctx}: ${x[0]} ${x[1]} vs ${w[j]![1]}`).toBe(true));
        }
      }),
      { numRuns: 500 },
    );
  });
});
