/**
 * An independent check of which lines a rule's selectors accept: label matchers
 * and line filters evaluated with real RE2 (re2-wasm), not the engine's own
 * matcher. Used by the rule-library tests as their oracle.
 */
import { RE2 } from 're2-wasm';
import { subExpressions, type Expr, type LabelMatcher, type LineFilter, type LogSelector } from '../../src/logql/ast.js';
import type { LogEvent } from '../../src/log-event.js';

/** Every stream selector of an expression, left to right. */
export function selectors(e: Expr): LogSelector[] {
  return e.type === 'range' ? [e.selector] : subExpressions(e).flatMap(selectors);
}

const re2Cache = new Map<string, RE2>();
/** Real RE2 (cached): throws on what RE2 rejects. */
export function re2(pattern: string): RE2 {
  let r = re2Cache.get(pattern);
  if (r === undefined) {
    r = new RE2(pattern, 'u');
    re2Cache.set(pattern, r);
  }
  return r;
}

function matcherAccepts(m: LabelMatcher, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=': return v === m.value;
    case '!=': return v !== m.value;
    case '=~': return re2(`^(?:${m.value})$`).test(v);
    case '!~': return !re2(`^(?:${m.value})$`).test(v);
  }
}

function filterAccepts(f: LineFilter, line: string): boolean {
  const any = f.values.some((v) => (f.op === '|=' || f.op === '!=' ? line.includes(v) : re2(v).test(line)));
  return f.op === '|=' || f.op === '|~' ? any : !any;
}

/** Selector + line filters, evaluated with real RE2. */
export function selectorAccepts(sel: LogSelector, ev: LogEvent): boolean {
  return sel.matchers.every((m) => matcherAccepts(m, ev.stream.labels)) && sel.filters.every((f) => filterAccepts(f, ev.line));
}
