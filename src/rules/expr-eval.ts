/**
 * Evaluates a rule's LogQL expression at one instant. The range aggregations
 * (leaves) are evaluated by the caller — the engine keeps one RangeSource per
 * leaf, all read at the same wall-clock instant — and the rest of the tree is
 * a fold over instant vectors.
 */
import { subExpressions, type Expr, type Grouping, type RangeAggExpr, type RangeFn } from '../logql/ast.js';
import { aggregate, binary, type Sample, type Value } from './instant-vector.js';
import { vectorBinop, vectorSetOp } from './vector-match.js';
import { labelReplace } from './label-replace.js';

/** Every range aggregation of an expression, left to right (none for a constant expression). */
export function rangeLeavesOf(expr: Expr): RangeAggExpr[] {
  const leaves: RangeAggExpr[] = [];
  const walk = (e: Expr): void => {
    if (e.type === 'range') leaves.push(e);
    else subExpressions(e).forEach(walk);
  };
  walk(expr);
  return leaves;
}

/** Range functions whose samples an enclosing `sum` may group early (syntax/ast.go canInjectVectorGrouping). */
const PUSHDOWN = new Set<RangeFn>(['bytes_over_time', 'bytes_rate', 'sum_over_time', 'rate', 'count_over_time']);

/**
 * The grouping Loki injects into a range aggregation's sample extractor:
 * `sum [by|without (…)] (range_fn(…))` directly around a range aggregation
 * without its own grouping (VectorAggregationExpr.Extractor). `sum(…)`
 * without a clause is `by ()`. Only pipelines use it (plain selectors keep
 * stream series, where it changes nothing). Per leaf: a rule may have several.
 */
export function pushedGroupings(expr: Expr): Map<RangeAggExpr, Grouping> {
  const out = new Map<RangeAggExpr, Grouping>();
  const walk = (e: Expr): void => {
    if (e.type === 'vector_agg' && e.op === 'sum' && e.inner.type === 'range' && e.inner.grouping === undefined && PUSHDOWN.has(e.inner.fn)) {
      out.set(e.inner, e.grouping ?? { without: false, labels: [] });
    }
    subExpressions(e).forEach(walk);
  };
  walk(expr);
  return out;
}

/** The only range aggregation of a single-leg expression (tools and tests that drive one RangeSource). */
export function rangeLeafOf(expr: Expr): RangeAggExpr {
  const leaves = rangeLeavesOf(expr);
  if (leaves.length !== 1) throw new Error(`expected exactly one range aggregation, found ${leaves.length}`);
  return leaves[0]!;
}

/** The pushed-down `sum` grouping of a single-leg expression (see pushedGroupings). */
export function extractorGrouping(expr: Expr): Grouping | undefined {
  return pushedGroupings(expr).get(rangeLeafOf(expr));
}

/** The samples of one range aggregation at the instant being evaluated. */
export type LeafEvaluator = (leaf: RangeAggExpr) => Sample[];

function samplesOf(v: Value): Sample[] {
  return v.kind === 'vector' ? v.samples : [{ labels: {}, value: v.value }];
}

export function evaluateExpr(expr: Expr, leaf: LeafEvaluator): Value {
  switch (expr.type) {
    case 'range':
      return { kind: 'vector', samples: leaf(expr) };
    case 'number':
      return { kind: 'scalar', value: expr.value };
    case 'vector':
      return { kind: 'vector', samples: [{ labels: {}, value: expr.value }] };
    case 'vector_agg':
      return { kind: 'vector', samples: aggregate(expr.op, expr.grouping, samplesOf(evaluateExpr(expr.inner, leaf)), expr.param) };
    case 'label_replace':
      return { kind: 'vector', samples: labelReplace(expr, samplesOf(evaluateExpr(expr.inner, leaf))) };
    case 'binary': {
      const lhs = evaluateExpr(expr.lhs, leaf);
      const rhs = evaluateExpr(expr.rhs, leaf);
      const op = expr.op;
      if (expr.matching !== undefined && lhs.kind === 'vector' && rhs.kind === 'vector') {
        if (op === 'and' || op === 'or' || op === 'unless') return { kind: 'vector', samples: vectorSetOp(op, expr.matching, lhs.samples, rhs.samples) };
        return { kind: 'vector', samples: vectorBinop(op, expr.bool, expr.matching, lhs.samples, rhs.samples) };
      }
      if (op === 'and' || op === 'or' || op === 'unless') throw new Error(`set operator "${op}" needs two vectors`);
      return binary(op, expr.bool, lhs, rhs);
    }
  }
}

/** A rule's result as samples (a scalar result is one sample with no labels, as Prometheus does). */
export function resultSamples(v: Value): Sample[] {
  return samplesOf(v);
}
