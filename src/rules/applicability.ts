/**
 * Can a rule ever match a stream this sidecar produces?
 *
 * A shared Loki rules ConfigMap also holds rules for applications
 * (`{namespace="…", app="…"}`, `{kubernetes_pod_name=…}`). The sidecar only
 * produces the Talos labels (job, host, talos_service, level, plus configured
 * label fields and static labels), so such a rule would load, never fire, and
 * an `absent_over_time` among them would fire forever. The Loki ruler loads
 * the same file fine, so such a rule is not an error: it is "not applicable
 * here", skipped and listed.
 *
 * Matching follows Prometheus/Loki label-matcher semantics (a label that is
 * not set has the value "": prometheus/model/labels/matcher.go, and Loki's
 * stream matching in pkg/logql/log uses the same matchers), with regexes fully
 * anchored (`^(?:re)$`). The decision is conservative: a rule is ruled out
 * only when no stream the sidecar can produce could satisfy one of its
 * selectors; labels with open values (host, talos_service, level, label
 * fields) are assumed able to take any value.
 */
import type { Expr, LabelMatcher, LogSelector } from '../logql/ast.js';
import { compileLabelRegex } from '../re2/re2.js';
import { labelNameOfField } from '../talos/decode.js';

/** The values one produced label can take. */
export type LabelValues =
  /** Any value (from the record or the peer); `mayBeAbsent` when some streams lack it. */
  | { readonly kind: 'open'; readonly mayBeAbsent: boolean }
  /** Only these values (`""` among them when some streams lack the label). */
  | { readonly kind: 'fixed'; readonly values: readonly string[] };

/** Every label a stream of this sidecar can carry; any other label is always absent (""). */
export interface LabelUniverse {
  readonly labels: ReadonlyMap<string, LabelValues>;
}

/** The settings that decide the labels of a Talos stream (a subset of Config['talos']). */
export interface TalosLabelSettings {
  job: string;
  /** The host field is never a label of its own (see decode.ts). */
  hostField?: string;
  labelFields: readonly string[];
  staticLabels: Readonly<Record<string, string>>;
}

/**
 * The labels TalosDecoder (src/talos/decode.ts) sets, in its precedence:
 * static labels, then label fields (when the record has the field), then the
 * four core labels, which always win.
 */
export function talosLabelUniverse(s: TalosLabelSettings): LabelUniverse {
  const labels = new Map<string, LabelValues>();
  for (const [k, v] of Object.entries(s.staticLabels)) labels.set(k, { kind: 'fixed', values: [v] });
  for (const f of s.labelFields) {
    if (f === s.hostField) continue;
    const name = labelNameOfField(f);
    // A record without the field keeps the static value (or no label at all).
    const fallback = labels.get(name);
    labels.set(name, { kind: 'open', mayBeAbsent: fallback === undefined || (fallback.kind === 'fixed' && fallback.values.includes('')) });
  }
  labels.set('job', { kind: 'fixed', values: [s.job] });
  labels.set('host', { kind: 'open', mayBeAbsent: false });
  labels.set('talos_service', { kind: 'open', mayBeAbsent: false });
  // Records without `talos-level` get no level label.
  labels.set('level', { kind: 'open', mayBeAbsent: true });
  return { labels };
}

export type Applicability =
  | { readonly applicable: true }
  | {
      readonly applicable: false;
      /** The label that rules the rule out. */
      readonly label: string;
      /** Human-readable: the selector, the matcher and what the sidecar produces instead. */
      readonly reason: string;
    };

const APPLICABLE: Applicability = { applicable: true };

function matcherText(m: LabelMatcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}

function selectorText(s: LogSelector): string {
  return `{${s.matchers.map(matcherText).join(', ')}}`;
}

function satisfies(m: LabelMatcher, value: string): boolean {
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return compileLabelRegex(m.value)(value);
    case '!~':
      return !compileLabelRegex(m.value)(value);
  }
}

/** Whether some stream the sidecar produces satisfies every matcher of `sel`, and if not, why. */
export function selectorApplicability(sel: LogSelector, universe: LabelUniverse): Applicability {
  const byLabel = new Map<string, LabelMatcher[]>();
  for (const m of sel.matchers) byLabel.set(m.name, [...(byLabel.get(m.name) ?? []), m]);
  for (const [name, matchers] of byLabel) {
    const produced = universe.labels.get(name);
    // Open values: assume some value satisfies the matchers (never rule out on a guess).
    if (produced?.kind === 'open') continue;
    const values = produced === undefined ? [''] : produced.values;
    // All matchers on one label must hold for the same value.
    if (values.some((v) => matchers.every((m) => satisfies(m, v)))) continue;
    const what = matchers.map(matcherText).join(', ');
    const have =
      produced === undefined
        ? `the label ${name} is never set (labels here: ${[...universe.labels.keys()].sort().join(', ')})`
        : `${name} is always ${produced.values.map((v) => (v === '' ? 'absent' : JSON.stringify(v))).join(' or ')}`;
    return { applicable: false, label: name, reason: `${selectorText(sel)} never matches here: ${have}, so ${what} cannot hold` };
  }
  return APPLICABLE;
}

function isLogSelector(v: unknown): v is LogSelector {
  return typeof v === 'object' && v !== null && Array.isArray((v as { matchers?: unknown }).matchers);
}

function isExprNode(v: unknown): v is { type: string } {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

/**
 * Whether the expression can ever produce a sample from this sidecar's
 * streams. Every stream selector it needs must be able to match; `a or b`
 * needs only one side and `a unless b` only its left side. Walks nodes
 * generically (any `selector` property, any child with a `type`), so new
 * expression kinds are covered without a change here.
 */
export function ruleApplicability(expr: Expr, universe: LabelUniverse): Applicability {
  return nodeApplicability(expr, universe);
}

function nodeApplicability(node: { type: string }, universe: LabelUniverse): Applicability {
  const n = node as unknown as Record<string, unknown>;
  if (n.type === 'binary' && isExprNode(n.lhs) && isExprNode(n.rhs)) {
    if (n.op === 'or') {
      const l = nodeApplicability(n.lhs, universe);
      return l.applicable ? l : nodeApplicability(n.rhs, universe).applicable ? APPLICABLE : l;
    }
    if (n.op === 'unless') return nodeApplicability(n.lhs, universe);
  }
  for (const [key, child] of Object.entries(n)) {
    if (key === 'pos') continue;
    const children = Array.isArray(child) ? (child as unknown[]) : [child];
    for (const c of children) {
      let v: Applicability = APPLICABLE;
      if (key === 'selector' && isLogSelector(c)) v = selectorApplicability(c, universe);
      else if (isExprNode(c)) v = nodeApplicability(c, universe);
      if (!v.applicable) return v;
    }
  }
  return APPLICABLE;
}

/**
 * The stream selectors (`{…}`) in an expression's text, for expressions the
 * parser rejects as unsupported: outside string literals (`"…"`, `` `…` ``)
 * a brace only opens a stream selector in LogQL, so an application rule that
 * also uses LogQL this engine cannot run is still recognised as not
 * applicable (the weaker claim wins: it never errors).
 */
export function selectorTexts(expr: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '"' || c === '`') {
      // Skip the string literal; backslash escapes only in double quotes.
      for (i++; i < expr.length && expr[i] !== c; i++) if (c === '"' && expr[i] === '\\') i++;
    } else if (c === '{' && start === -1) {
      start = i;
    } else if (c === '}' && start !== -1) {
      out.push(expr.slice(start, i + 1));
      start = -1;
    }
  }
  return out;
}
