/**
 * Binary operations between two instant vectors with PromQL/LogQL vector
 * matching: one-to-one by default, on(…)/ignoring(…), group_left/group_right
 * (many-to-one / one-to-many), and the set operators and/or/unless.
 *
 * Follows Loki pkg/logql/evaluator.go (vectorBinop, vectorAnd/Or/Unless,
 * resultMetric, matchingSignature) and pkg/logql/syntax/ast.go MergeBinOp,
 * including its error texts, which the ruler reports as the rule's lastError.
 */
import type { ArithOp, CompareOp, SetOp, VectorMatching } from '../logql/ast.js';
import { arith, compare, isComparison, keyOf, type Sample } from './instant-vector.js';

/** Evaluation failed the way Loki's does (e.g. many-to-many matching). */
export class VectorMatchError extends Error {
  override name = 'VectorMatchError';
}

type Labels = Readonly<Record<string, string>>;

/** The labels that decide which samples match: `on` keeps the listed ones, `ignoring` drops them. */
function signature(labels: Labels, m: VectorMatching): string {
  const kept: Record<string, string> = {};
  if (m.on) {
    for (const n of m.labels) if (labels[n] !== undefined) kept[n] = labels[n]!;
  } else {
    for (const n in labels) if (!m.labels.includes(n)) kept[n] = labels[n]!;
  }
  return keyOf(kept);
}

/** Result labels (Loki resultMetric): one-to-one reduces to the match labels; group_x copies `include` from the "one" side. */
function resultLabels(lhs: Labels, rhs: Labels, m: VectorMatching): Labels {
  const out: Record<string, string> = { ...lhs };
  if (m.card === 'one-to-one') {
    if (m.on) {
      for (const n in out) if (!m.labels.includes(n)) delete out[n];
    } else {
      for (const n of m.labels) delete out[n];
    }
  }
  for (const n of m.include) {
    const v = rhs[n];
    if (v !== undefined && v !== '') out[n] = v;
    else delete out[n];
  }
  return out;
}

/**
 * `lhs op rhs` for arithmetic and comparison operators. Comparisons without
 * `bool` filter and keep the left sample's value; with `bool` they give 0/1.
 */
export function vectorBinop(op: ArithOp | CompareOp, returnBool: boolean, m: VectorMatching, lhsIn: readonly Sample[], rhsIn: readonly Sample[]): Sample[] {
  // One-to-many: the "one" side is the left; swap so the loop runs over the "many" side.
  const swapped = m.card === 'one-to-many';
  const many = swapped ? rhsIn : lhsIn;
  const one = swapped ? lhsIn : rhsIn;
  const oneBySig = new Map<string, Sample>();
  for (const s of one) {
    const sig = signature(s.labels, m);
    if (oneBySig.has(sig)) {
      throw new VectorMatchError(
        `found duplicate series on the ${swapped ? 'left' : 'right'} hand-side;many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    oneBySig.set(sig, s);
  }
  const matched = new Map<string, Set<string> | null>();
  const out: Sample[] = [];
  const cmp = isComparison(op);
  for (const s of many) {
    const sig = signature(s.labels, m);
    const o = oneBySig.get(sig);
    if (o === undefined) continue;
    const labels = resultLabels(s.labels, o.labels, m);
    const seen = matched.get(sig);
    if (m.card === 'one-to-one') {
      if (seen !== undefined) throw new VectorMatchError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
      matched.set(sig, null);
    } else {
      const key = keyOf(labels);
      if (seen === undefined) matched.set(sig, new Set([key]));
      else if (seen!.has(key)) throw new VectorMatchError('multiple matches for labels: grouping labels must ensure unique matches');
      else seen!.add(key);
    }
    const l = swapped ? o : s;
    const r = swapped ? s : o;
    if (cmp) {
      const keep = compare(op, l.value, r.value);
      if (returnBool) out.push({ labels, value: keep ? 1 : 0 });
      else if (keep) out.push({ labels, value: l.value });
    } else {
      out.push({ labels, value: arith(op as ArithOp, l.value, r.value) });
    }
  }
  return out;
}

/** and / or / unless (Loki vectorAnd, vectorOr, vectorUnless): samples keep their own labels and values. */
export function vectorSetOp(op: SetOp, m: VectorMatching, lhs: readonly Sample[], rhs: readonly Sample[]): Sample[] {
  switch (op) {
    case 'and': {
      if (lhs.length === 0 || rhs.length === 0) return [];
      const right = new Set(rhs.map((s) => signature(s.labels, m)));
      return lhs.filter((s) => right.has(signature(s.labels, m)));
    }
    case 'or': {
      if (lhs.length === 0) return [...rhs];
      if (rhs.length === 0) return [...lhs];
      const left = new Set(lhs.map((s) => signature(s.labels, m)));
      return [...lhs, ...rhs.filter((s) => !left.has(signature(s.labels, m)))];
    }
    case 'unless': {
      if (lhs.length === 0 || rhs.length === 0) return [...lhs];
      const right = new Set(rhs.map((s) => signature(s.labels, m)));
      return lhs.filter((s) => !right.has(signature(s.labels, m)));
    }
  }
}
