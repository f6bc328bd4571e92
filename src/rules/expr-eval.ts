/**
 * Evaluates a rule's LogQL expression at one grid instant. Every supported
 * expression has exactly one range aggregation (binary operations need a
 * scalar side), so a rule owns one RangeSource and the walk is a fold.
 */
import type { Expr, Grouping, RangeAggExpr, RangeFn } from '../logql/ast.js';
import { LogQLError } from '../logql/ast.js';
import { aggregate, binary, type Sample, type Value } from './instant-vector.js';
import type { RangeSource } from './range-source.js';

/** The single range aggregation of an expression; throws if there is none or several. */
export function rangeLeafOf(expr: Expr): RangeAggExpr {
  const leaves: RangeAggExpr[] = [];
  const walk = (e: Expr): void => {
    switch (e.type) {
      case 'range':
        leaves.push(e);
        break;
      case 'vector_agg':
        walk(e.inner);
        break;
      case 'binary':
        walk(e.lhs);
        walk(e.rhs);
        break;
      case 'number':
        break;
    }
  };
  walk(expr);
  if (leaves.length !== 1) {
    const msg = leaves.length === 0 ? 'expression has no log range aggregation' : 'binary operations between two log queries are not supported';
    throw new LogQLError(msg, expr.pos, true);
  }
  return leaves[0]!;
}

/** Range functions whose samples an enclosing `sum` may group early (syntax/ast.go canInjectVectorGrouping). */
const PUSHDOWN = new Set<RangeFn>(['bytes_over_time', 'bytes_rate', 'sum_over_time', 'rate', 'count_over_time']);

/**
 * The grouping Loki injects into the range aggregation's sample extractor:
 * `sum [by|without (…)] (range_fn(…))` directly around a range aggregation
 * without its own grouping (VectorAggregationExpr.Extractor). `sum(…)`
 * without a clause is `by ()`. Only pipelines use it (plain selectors keep
 * stream series, where it changes nothing).
 */
export function extractorGrouping(expr: Expr): Grouping | undefined {
  switch (expr.type) {
    case 'vector_agg':
      if (expr.op === 'sum' && expr.inner.type === 'range' && expr.inner.grouping === undefined && PUSHDOWN.has(expr.inner.fn)) {
        return expr.grouping ?? { without: false, labels: [] };
      }
      return extractorGrouping(expr.inner);
    case 'binary':
      return extractorGrouping(expr.lhs) ?? extractorGrouping(expr.rhs);
    default:
      return undefined;
  }
}

export function evaluateExpr(expr: Expr, source: RangeSource, T: number): Value {
  switch (expr.type) {
    case 'range':
      return { kind: 'vector', samples: source.evaluate(T) };
    case 'number':
      return { kind: 'scalar', value: expr.value };
    case 'vector_agg': {
      const inner = evaluateExpr(expr.inner, source, T);
      const samples = inner.kind === 'vector' ? inner.samples : [{ labels: {}, value: inner.value }];
      return { kind: 'vector', samples: aggregate(expr.op, expr.grouping, samples) };
    }
    case 'binary':
      return binary(expr.op, expr.bool, evaluateExpr(expr.lhs, source, T), evaluateExpr(expr.rhs, source, T));
  }
}

/** A rule's result as samples (a scalar result is one sample with no labels, as Prometheus does). */
export function resultSamples(v: Value): Sample[] {
  return v.kind === 'vector' ? v.samples : [{ labels: {}, value: v.value }];
}
