/**
 * Label filters (`| status >= 500`, `| level=~"err.*" or latency > 1s`),
 * compiled from the AST into predicates with Loki's semantics
 * (pkg/logql/log/label_filter.go):
 * - string matchers `= != =~ !~` compare the label's value, "" when absent;
 *   regexes are anchored (Prometheus label matchers); `__error__` reads the
 *   line's error.
 * - numeric, duration and bytes comparisons: an absent label fails the
 *   filter; a value that does not convert keeps the line and sets
 *   `__error__="LabelFilterErr"` (unless an error is already set) with the
 *   conversion error in `__error_details__`.
 * - `ip("…")`: passes when the line already has an error; absent → fails.
 * - `and` (also `,` and plain whitespace) and `or` evaluate left to right,
 *   `or` short-circuits (BinaryLabelFilter.Process).
 */
import type { LabelFilterExpr, NumCmp } from '../ast.js';
import type { LabelsBuilder } from './labels-builder.js';
import { IpFilter } from './ip.js';
import { parseGoDurationNs, parseGoFloat, parseHumanBytes, type Parsed } from './units.js';
import { compare } from '../compare.js';

export const LABEL_FILTER_ERROR = 'LabelFilterErr';

export type LabelFilterNode = LabelFilterExpr;

export type LabelPredicate = (lb: LabelsBuilder) => boolean;

/** Anchored regex test for label values (the product's RE2 engine, passed in to stay layout-independent). */
export type AnchoredRegexCompiler = (re: string) => (s: string) => boolean;


function converting(name: string, op: NumCmp, want: number, conv: (s: string) => Parsed): LabelPredicate {
  return (lb) => {
    const v = lb.get(name);
    if (v === undefined) return false;
    const r = conv(v);
    if (!r.ok) {
      if (lb.err === '') lb.setError(LABEL_FILTER_ERROR, r.error);
      return true;
    }
    return compare(op, r.value, want);
  };
}

export function compileLabelFilter(node: LabelFilterNode, regex: AnchoredRegexCompiler): LabelPredicate {
  switch (node.k) {
    case 'and': {
      const l = compileLabelFilter(node.left, regex);
      const r = compileLabelFilter(node.right, regex);
      // Both sides run (a right-hand conversion error is still recorded), as Loki does.
      return (lb) => {
        const a = l(lb);
        const b = r(lb);
        return a && b;
      };
    }
    case 'or': {
      const l = compileLabelFilter(node.left, regex);
      const r = compileLabelFilter(node.right, regex);
      return (lb) => l(lb) || r(lb);
    }
    case 'string': {
      const { name, value } = node;
      switch (node.op) {
        case '=':
          return (lb) => lb.value(name) === value;
        case '!=':
          return (lb) => lb.value(name) !== value;
        case '=~': {
          const re = regex(value);
          return (lb) => re(lb.value(name));
        }
        case '!~': {
          const re = regex(value);
          return (lb) => !re(lb.value(name));
        }
      }
      break;
    }
    case 'number':
      return converting(node.name, node.op, node.value, parseGoFloat);
    case 'duration':
      return converting(node.name, node.op, node.value, parseGoDurationNs);
    case 'bytes':
      return converting(node.name, node.op, node.value, parseHumanBytes);
    case 'ip': {
      const f = new IpFilter(node.pattern);
      const { name } = node;
      const eq = node.op === '=';
      return (lb) => {
        if (lb.err !== '') return true;
        const v = lb.get(name);
        if (v === undefined) return false;
        return f.test(v) === eq;
      };
    }
  }
}

/** Label names a filter reads (for `__error__`-only detection and docs). */
export function filterLabelNames(node: LabelFilterNode): string[] {
  switch (node.k) {
    case 'and':
    case 'or':
      return [...filterLabelNames(node.left), ...filterLabelNames(node.right)];
    default:
      return [node.name];
  }
}
