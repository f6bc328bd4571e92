/**
 * The log query behind a metric rule: for each range aggregation, its stream
 * selector and pipeline as written (`{job="talos-kernel"} |= "oom"`), without
 * the range, offset or `| unwrap …`, so a link can open the lines themselves
 * (issue #18). Cut from the rule's own text, so it reads exactly as the rule
 * author wrote it.
 */
import type { Expr } from '../logql/ast.js';
import { rangeLeavesOf } from './expr-eval.js';

export interface LogQuery {
  /** The log query text. */
  readonly query: string;
  /** The leg's range plus offset, ms: how far before activeAt its lines may lie. */
  readonly lookbackMs: number;
}

/** Every range aggregation's log query, left to right (one per leg). */
export function logQueriesOf(exprText: string, expr: Expr): LogQuery[] {
  return rangeLeavesOf(expr).map((leaf) => {
    const start = leaf.selector.pos.offset;
    const unwrapAt = leaf.unwrap?.pos.offset;
    return { query: logQueryAt(exprText, start, unwrapAt), lookbackMs: leaf.rangeMs + (leaf.offsetMs ?? 0) };
  });
}

/**
 * Text from the selector's `{` to the end of the range aggregation's
 * argument (the `)` closing it at depth 0), skipping the `[range]`, an
 * `offset <duration>` after it, and everything from `| unwrap` on.
 */
function logQueryAt(text: string, start: number, unwrapAt: number | undefined): string {
  let depth = 0;
  let out = '';
  let i = start;
  while (i < text.length) {
    if (unwrapAt !== undefined && i === unwrapAt) {
      // Skip `unwrap …` up to the range or the end of the argument.
      i = skipUntilRangeOrClose(text, i);
      out = out.replace(/\s*\|\s*$/, '');
      continue;
    }
    const c = text[i]!;
    if (c === '"' || c === '`') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === '(' || c === '{') depth++;
    else if (c === ')' || c === '}') {
      if (depth === 0) break;
      depth--;
    } else if (c === '[' && depth === 0) {
      i = text.indexOf(']', i) + 1 || text.length;
      const offset = /^\s*offset\s+-?[0-9a-zµ.]+/.exec(text.slice(i));
      if (offset !== null) i += offset[0].length;
      continue;
    } else if (c === ',' && depth === 0) break;
    out += c;
    i++;
  }
  return out.replace(/\s+/g, ' ').trim();
}

function skipUntilRangeOrClose(text: string, i: number): number {
  let depth = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === '`') {
      i = stringEnd(text, i);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) return i;
      depth--;
    } else if (c === '[' && depth === 0) return i;
    i++;
  }
  return i;
}

/** Index just after the string literal starting at `i` (`"…"` with escapes, or a raw `` `…` ``). */
function stringEnd(text: string, i: number): number {
  const q = text[i]!;
  let j = i + 1;
  while (j < text.length && text[j] !== q) j += q === '"' && text[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, text.length);
}
