/**
 * Which history a rule set needs from Loki: every log selector in every
 * rule's expression (a rule may hold several once vector algebra joins range
 * aggregations), turned into a LogQL log query carrying the stream selector
 * and the line filters that act on the line as stored. Parsers, label filters
 * and everything after a line-rewriting stage stay local: the engine runs
 * them on the fetched lines, exactly as it does live, so a rule the query
 * cannot express still works — it just fetches more.
 *
 * One fetch per distinct selector + filters; a query whose matchers equal a
 * filter-less one is subsumed by it (the filter-less query returns a superset).
 */
import type { LabelMatcher, LineFilter, LogSelector } from '../logql/ast.js';
import type { RuleSet } from '../rules/rule-file.js';

export interface HistoryQuery {
  /** The LogQL log query sent to Loki: `{job="x"} |= "a" |~ "b"`. */
  readonly logql: string;
  readonly matchers: readonly LabelMatcher[];
  readonly filters: readonly LineFilter[];
  /** Names of the rules this query serves. */
  readonly rules: string[];
}

/** LogQL string literal: a Go interpreted string (JSON's escapes are a subset Go accepts). */
export function quoteLogQL(s: string): string {
  return JSON.stringify(s);
}

export function formatSelector(matchers: readonly LabelMatcher[]): string {
  // Sorted, so that `{a="1", b="2"}` and `{b="2", a="1"}` are one fetch.
  const parts = matchers.map((m) => `${m.name}${m.op}${quoteLogQL(m.value)}`).sort();
  return `{${parts.join(', ')}}`;
}

export function formatLineFilter(f: LineFilter): string {
  return `${f.op} ${f.values.map(quoteLogQL).join(' or ')}`;
}

/** `{sel} |= "x" |~ "y"`: what Loki can filter for us. */
export function formatLogQuery(sel: Pick<LogSelector, 'matchers' | 'filters'>): string {
  const filters = sel.filters.map(formatLineFilter);
  return filters.length === 0 ? formatSelector(sel.matchers) : `${formatSelector(sel.matchers)} ${filters.join(' ')}`;
}

function isSelector(v: object): v is LogSelector {
  const o = v as Partial<LogSelector>;
  return Array.isArray(o.matchers) && Array.isArray(o.filters);
}

/**
 * Every log selector in an expression tree. Walks the tree generically (any
 * object property, any array) so that node kinds added to the AST later —
 * vector-vector operations, label_replace, several range aggregations — are
 * covered without this file knowing them.
 */
export function logSelectorsOf(expr: unknown, out: LogSelector[] = [], depth = 0): LogSelector[] {
  if (expr === null || typeof expr !== 'object' || depth > 64) return out;
  if (Array.isArray(expr)) {
    for (const x of expr) logSelectorsOf(x, out, depth + 1);
    return out;
  }
  if (isSelector(expr)) {
    out.push(expr);
    return out;
  }
  for (const [k, v] of Object.entries(expr)) if (k !== 'pos') logSelectorsOf(v, out, depth + 1);
  return out;
}

/** The distinct queries to fetch for a rule set, each naming the rules it serves. */
export function historyQueries(rules: RuleSet): HistoryQuery[] {
  const byText = new Map<string, { matchers: LabelMatcher[]; filters: LineFilter[]; rules: Set<string> }>();
  for (const g of rules.groups) {
    for (const r of g.rules) {
      for (const sel of logSelectorsOf(r.expr)) {
        const logql = formatLogQuery(sel);
        let q = byText.get(logql);
        if (q === undefined) byText.set(logql, (q = { matchers: sel.matchers, filters: sel.filters, rules: new Set() }));
        q.rules.add(r.name);
      }
    }
  }
  // A filter-less query on the same matchers returns every line the filtered ones would.
  const bare = new Map<string, string>();
  for (const [logql, q] of byText) if (q.filters.length === 0) bare.set(formatSelector(q.matchers), logql);
  for (const [logql, q] of byText) {
    if (q.filters.length === 0) continue;
    const wider = bare.get(formatSelector(q.matchers));
    if (wider === undefined) continue;
    for (const r of q.rules) byText.get(wider)!.rules.add(r);
    byText.delete(logql);
  }
  return [...byText].map(([logql, q]) => ({ logql, matchers: q.matchers, filters: q.filters, rules: [...q.rules].sort() }));
}
