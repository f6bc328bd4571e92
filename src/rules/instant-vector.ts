/**
 * Instant-vector arithmetic with PromQL/LogQL semantics: vector aggregations
 * (sum, count, min, max, avg with by/without) and binary operations where one
 * side is a scalar (comparison filters or, with `bool`, yields 0/1).
 */
import type { ArithOp, CompareOp, Grouping, VectorAggOp } from '../logql/ast.js';

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

function keyOf(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  let k = '';
  for (const n of names) k += `${n}\u0000${labels[n]}\u0001`;
  return k;
}

interface Group {
  labels: Readonly<Record<string, string>>;
  sum: number;
  count: number;
  min: number;
  max: number;
}

export function aggregate(op: VectorAggOp, grouping: Grouping | undefined, samples: readonly Sample[]): Sample[] {
  if (samples.length === 0) return [];
  const groups = new Map<string, Group>();
  for (const s of samples) {
    const labels = groupLabels(s.labels, grouping);
    const key = grouping === undefined ? '' : keyOf(labels);
    let g = groups.get(key);
    if (g === undefined) {
      g = { labels, sum: 0, count: 0, min: Infinity, max: -Infinity };
      groups.set(key, g);
    }
    g.sum += s.value;
    g.count++;
    if (s.value < g.min || Number.isNaN(g.min)) g.min = s.value;
    if (s.value > g.max || Number.isNaN(g.max)) g.max = s.value;
  }
  const out: Sample[] = [];
  for (const g of groups.values()) {
    let value: number;
    switch (op) {
      case 'sum':
        value = g.sum;
        break;
      case 'count':
        value = g.count;
        break;
      case 'min':
        value = g.min;
        break;
      case 'max':
        value = g.max;
        break;
      case 'avg':
        value = g.sum / g.count;
        break;
    }
    out.push({ labels: g.labels, value });
  }
  return out;
}

const COMPARE = new Set<string>(['==', '!=', '>', '<', '>=', '<=']);

export function isComparison(op: ArithOp | CompareOp): op is CompareOp {
  return COMPARE.has(op);
}

export function arith(op: ArithOp, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      // Go's math.Mod: result has the sign of the dividend, like JS %.
      return a % b;
    case '^':
      return Math.pow(a, b);
  }
}

export function compare(op: CompareOp, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '<':
      return a < b;
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
  }
}

/**
 * Binary operation between a vector and a scalar (either side) or two scalars.
 * Comparisons without `bool` filter and keep the vector element's value even
 * when the scalar is on the left, as Prometheus does.
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
