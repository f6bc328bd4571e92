/**
 * Instant vectors with Loki's arithmetic: vector aggregations and operations
 * between a vector and a literal. Vector-vector operations (matching) are in
 * vector-match.ts.
 *
 * Where Loki and PromQL differ, Loki wins (pkg/logql/syntax/ast.go MergeBinOp):
 * x / 0 and x % 0 are NaN (not ±Inf), and a filtering comparison keeps the
 * vector's value whichever side the literal is on.
 */
import type { ArithOp, CompareOp, Grouping, VectorAggOp } from '../logql/ast.js';
import { compare } from '../logql/compare.js';
import { flat } from './flat-string.js';

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export type Value = { kind: 'vector'; samples: Sample[] } | { kind: 'scalar'; value: number };

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

function groupLabels(labels: Readonly<Record<string, string>>, grouping: Grouping | undefined): Readonly<Record<string, string>> {
  if (grouping === undefined) return NO_LABELS;
  const out: Record<string, string> = {};
  if (grouping.without) {
    for (const k in labels) if (!grouping.labels.includes(k)) out[k] = labels[k]!;
  } else {
    for (const k of grouping.labels) if (labels[k] !== undefined && labels[k] !== '') out[k] = labels[k]!;
  }
  return out;
}

/**
 * Group labels and key per input label set, per grouping (an AST node, alive
 * as long as its rule). Series labels are frozen objects that live as long
 * as their series, so a rule evaluated on every matching line would otherwise
 * rebuild and re-sort the same group labels for every series each time; with
 * the memo it allocates nothing for them, and equal groups keep one labels
 * object across evaluations (which the alerting rule's own memo relies on).
 * Only frozen inputs are memoised: a label set built for one evaluation
 * (label_replace, vector matching) would only churn the weak map.
 */
const groupMemo = new WeakMap<Grouping, WeakMap<Readonly<Record<string, string>>, { labels: Readonly<Record<string, string>>; key: string }>>();

const NO_GROUP = Object.freeze({ labels: NO_LABELS, key: '' });

function groupOf(labels: Readonly<Record<string, string>>, grouping: Grouping | undefined): { labels: Readonly<Record<string, string>>; key: string } {
  if (grouping === undefined) return NO_GROUP;
  const frozen = Object.isFrozen(labels);
  let memo = frozen ? groupMemo.get(grouping) : undefined;
  if (frozen && memo === undefined) groupMemo.set(grouping, (memo = new WeakMap()));
  const hit = memo?.get(labels);
  if (hit !== undefined) return hit;
  const out = Object.freeze(groupLabels(labels, grouping));
  const g = { labels: out, key: flat(keyOf(out)) };
  memo?.set(labels, g);
  return g;
}

/** Canonical key of a label set (names sorted). */
export function keyOf(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  let k = '';
  for (const n of names) if (labels[n] !== '') k += `${n}\u0000${labels[n]}\u0001`;
  return k;
}

interface Group {
  labels: Readonly<Record<string, string>>;
  value: number;
  mean: number;
  count: number;
  /** topk/bottomk/sort/sort_desc: the kept samples. */
  kept: Sample[] | undefined;
}

/**
 * Go's container/heap over `kept`, with Loki's orderings (pkg/logql/vector.go):
 * topk keeps a min-heap by value, bottomk a max-heap; NaN always sorts first,
 * so it is the first to be pushed out. Same algorithm as Go so that ties
 * resolve the same way for the same input order.
 */
function heapLess(a: Sample, b: Sample, reverse: boolean): boolean {
  if (Number.isNaN(a.value)) return true;
  return reverse ? a.value > b.value : a.value < b.value;
}

function heapUp(h: Sample[], j: number, reverse: boolean): void {
  while (j > 0) {
    const i = (j - 1) >> 1;
    if (i === j || !heapLess(h[j]!, h[i]!, reverse)) break;
    [h[i], h[j]] = [h[j]!, h[i]!];
    j = i;
  }
}

function heapDown(h: Sample[], i0: number, n: number, reverse: boolean): void {
  let i = i0;
  for (;;) {
    const j1 = 2 * i + 1;
    if (j1 >= n) break;
    let j = j1;
    const j2 = j1 + 1;
    if (j2 < n && heapLess(h[j2]!, h[j1]!, reverse)) j = j2;
    if (!heapLess(h[j]!, h[i]!, reverse)) break;
    [h[i], h[j]] = [h[j]!, h[i]!];
    i = j;
  }
}

function heapPush(h: Sample[], s: Sample, reverse: boolean): void {
  h.push(s);
  heapUp(h, h.length - 1, reverse);
}

function heapPop(h: Sample[], reverse: boolean): void {
  const n = h.length - 1;
  [h[0], h[n]] = [h[n]!, h[0]!];
  heapDown(h, 0, n, reverse);
  h.pop();
}

/**
 * A vector aggregation with Loki's algorithms (pkg/logql/evaluator.go
 * VectorAggEvaluator): running mean for avg (with its infinity guards),
 * Welford for stddev/stdvar, a bounded heap for topk/bottomk. `param` is k.
 */
export function aggregate(op: VectorAggOp, grouping: Grouping | undefined, samples: readonly Sample[], param = 0): Sample[] {
  if (samples.length === 0) return [];
  const groups = new Map<string, Group>();
  const heapOp = op === 'topk' || op === 'bottomk' || op === 'sort' || op === 'sort_desc';
  // topk and sort_desc keep a min-heap (lowest on top); bottomk and sort a max-heap.
  const reverse = op === 'bottomk' || op === 'sort';
  for (const s of samples) {
    const { labels, key } = groupOf(s.labels, grouping);
    const g = groups.get(key);
    if (g === undefined) {
      const ng: Group = { labels, value: s.value, mean: s.value, count: 1, kept: undefined };
      if (op === 'stddev' || op === 'stdvar') ng.value = 0;
      if (heapOp) ng.kept = [s];
      groups.set(key, ng);
      continue;
    }
    switch (op) {
      case 'sum':
        g.value += s.value;
        break;
      case 'avg':
        g.count++;
        if (!Number.isFinite(g.mean) && !Number.isNaN(g.mean)) {
          // An infinite mean stays put unless the sample is the opposite infinity or NaN.
          if (!Number.isFinite(s.value) && !Number.isNaN(s.value) && g.mean > 0 === s.value > 0) break;
          if (Number.isFinite(s.value)) break;
        }
        g.mean += (s.value - g.mean) / g.count;
        break;
      case 'max':
        if (g.value < s.value || Number.isNaN(g.value)) g.value = s.value;
        break;
      case 'min':
        if (g.value > s.value || Number.isNaN(g.value)) g.value = s.value;
        break;
      case 'count':
        g.count++;
        break;
      case 'stddev':
      case 'stdvar': {
        g.count++;
        const delta = s.value - g.mean;
        g.mean += delta / g.count;
        g.value += delta * (s.value - g.mean);
        break;
      }
      case 'topk':
      case 'bottomk': {
        const h = g.kept!;
        if (h.length < param || heapLess(h[0]!, s, reverse) || Number.isNaN(h[0]!.value)) {
          if (h.length === param) heapPop(h, reverse);
          heapPush(h, s, reverse);
        }
        break;
      }
      case 'sort':
      case 'sort_desc':
        heapPush(g.kept!, s, reverse);
        break;
    }
  }
  const out: Sample[] = [];
  for (const g of groups.values()) {
    switch (op) {
      case 'avg':
        out.push({ labels: g.labels, value: g.mean });
        break;
      case 'count':
        out.push({ labels: g.labels, value: g.count });
        break;
      case 'stddev':
        out.push({ labels: g.labels, value: Math.sqrt(g.value / g.count) });
        break;
      case 'stdvar':
        out.push({ labels: g.labels, value: g.value / g.count });
        break;
      case 'topk':
      case 'bottomk':
      case 'sort':
      case 'sort_desc': {
        // Output best first (topk/sort_desc: highest; bottomk/sort: lowest), samples keep their labels.
        const kept = g.kept!;
        kept.sort((a, b) => (heapLess(a, b, reverse) ? 1 : heapLess(b, a, reverse) ? -1 : 0));
        for (const s of kept) out.push(s);
        break;
      }
      default:
        out.push({ labels: g.labels, value: g.value });
    }
  }
  return out;
}

const COMPARE = new Set<string>(['==', '!=', '>', '<', '>=', '<=']);

export function isComparison(op: string): op is CompareOp {
  return COMPARE.has(op);
}

/** Go's math.Pow where it differs from JS `**` (1 ** NaN, (−1) ** ±Inf). */
export function goPow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return x ** y;
}

/** Loki's arithmetic (MergeBinOp): division and modulo by zero give NaN. */
export function arith(op: ArithOp, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? NaN : a / b;
    case '%':
      // Go's math.Mod: result has the sign of the dividend, like JS %.
      return b === 0 ? NaN : a % b;
    case '^':
      return goPow(a, b);
  }
}

export { compare };

/**
 * Binary operation between a vector and a literal (either side) or two
 * scalars. The literal is applied to every sample (Loki's
 * LiteralStepEvaluator); a filtering comparison keeps the vector sample's
 * value on either side (MergeBinOp with swap, loki#10741): `0 < v` keeps v.
 */
export function binary(op: ArithOp | CompareOp, returnBool: boolean, lhs: Value, rhs: Value): Value {
  if (lhs.kind === 'scalar' && rhs.kind === 'scalar') {
    if (isComparison(op)) return { kind: 'scalar', value: compare(op, lhs.value, rhs.value) ? 1 : 0 };
    return { kind: 'scalar', value: arith(op, lhs.value, rhs.value) };
  }
  const swap = lhs.kind === 'scalar';
  const vec = (swap ? rhs : lhs) as { kind: 'vector'; samples: Sample[] };
  const scalar = (swap ? lhs : rhs) as { kind: 'scalar'; value: number };
  const out: Sample[] = [];
  for (const s of vec.samples) {
    const a = swap ? scalar.value : s.value;
    const b = swap ? s.value : scalar.value;
    if (isComparison(op)) {
      const keep = compare(op, a, b);
      if (returnBool) out.push({ labels: s.labels, value: keep ? 1 : 0 });
      else if (keep) out.push(s);
    } else {
      out.push({ labels: s.labels, value: arith(op, a, b) });
    }
  }
  return { kind: 'vector', samples: out };
}
