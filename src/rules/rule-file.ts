/**
 * A loaded, validated rule set: what the Loki ruler reads from its rule files
 * (Prometheus rule-file format with LogQL expressions), as typed values.
 * `load.ts` produces it; the engine consumes it.
 */
import type { Expr } from '../logql/ast.js';

interface RuleBase {
  name: string;
  /** The parsed LogQL expression. */
  expr: Expr;
  /** The expression exactly as written in the file (for generatorURL and the API). */
  exprText: string;
  /** Label templates (alerting) or static labels (recording), as written. */
  labels: Record<string, string>;
  /** The rule file's path as loaded (Loki's "namespace"). */
  file: string;
  group: string;
  /** 0-based position of the rule in its group. */
  index: number;
  /** 1-based line of the rule in its file. */
  line: number;
}

export interface AlertingRuleDef extends RuleBase {
  kind: 'alert';
  forMs: number;
  /**
   * Prometheus semantics: keep a firing alert firing this long after its
   * condition stops holding. Loki parses `keep_firing_for` but drops it (its
   * rule protobuf has no field for it); we honour it because the author asked
   * for it, and because alerting on single log lines within milliseconds
   * flaps more readily than a once-a-minute ruler does.
   */
  keepFiringForMs: number;
  /** Annotation templates, as written. */
  annotations: Record<string, string>;
}

export interface RecordingRuleDef extends RuleBase {
  kind: 'record';
}

export type RuleDef = AlertingRuleDef | RecordingRuleDef;

export interface RuleGroupDef {
  file: string;
  name: string;
  /** `interval` of the group; 0 when not set (the ruler's evaluation_interval applies). */
  intervalMs: number;
  /** `limit` of the group: most alerts (or series) a rule may produce; 0 is no limit. */
  limit: number;
  rules: RuleDef[];
}

/**
 * Why a valid rule is loaded but never evaluated: `unsupported` (valid LogQL
 * this engine cannot run, under `rules.unsupported: skip`) or
 * `not_applicable` (its stream selectors can never match a stream this
 * sidecar produces, e.g. an application rule in a shared ConfigMap).
 */
export type SkipCause = 'unsupported' | 'not_applicable';

/** A rule that is listed (API, metric, logs, `check`) but never evaluated and never fires. */
export interface SkippedRule {
  file: string;
  group: string;
  rule: string;
  cause: SkipCause;
  reason: string;
  kind: 'alert' | 'record';
  /** The expression as written. */
  exprText: string;
  /** 0-based position in its group (rules are listed in file order). */
  index: number;
  /** 1-based line of the rule in its file (0 when unknown). */
  line: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  forMs: number;
  /** not_applicable: the label that rules the rule out. */
  label?: string;
}

export interface RuleSet {
  groups: RuleGroupDef[];
  skipped: SkippedRule[];
  /** Every rule file read, in load order. */
  files: string[];
}

export interface RuleLoadErrorInit {
  file: string;
  group?: string;
  /** Rule name (alert or record). */
  rule?: string;
  /** 1-based position of the rule in its group; printed when the rule has no name. */
  ruleIndex?: number;
  line?: number;
  column?: number;
  reason: string;
  /** The rule is valid for Loki but uses something this engine does not run. */
  unsupported?: boolean;
}

/**
 * One problem in one rule file. The message names everything known:
 * `rules/x.yaml:12:11: group "g": rule "r": could not parse expression: expr 1:34: …`.
 */
export class RuleLoadError extends Error {
  readonly file: string;
  readonly group?: string;
  readonly rule?: string;
  readonly ruleIndex?: number;
  readonly line?: number;
  readonly column?: number;
  readonly reason: string;
  readonly unsupported: boolean;

  constructor(init: RuleLoadErrorInit) {
    super(formatRuleLoadError(init));
    this.name = 'RuleLoadError';
    this.file = init.file;
    if (init.group !== undefined) this.group = init.group;
    if (init.rule !== undefined) this.rule = init.rule;
    if (init.ruleIndex !== undefined) this.ruleIndex = init.ruleIndex;
    if (init.line !== undefined) this.line = init.line;
    if (init.column !== undefined) this.column = init.column;
    this.reason = init.reason;
    this.unsupported = init.unsupported ?? false;
  }
}

function formatRuleLoadError(e: RuleLoadErrorInit): string {
  let s = e.file;
  if (e.line !== undefined) s += `:${e.line}${e.column !== undefined ? `:${e.column}` : ''}`;
  s += ':';
  if (e.group !== undefined && e.group !== '') s += ` group ${JSON.stringify(e.group)}:`;
  if (e.rule !== undefined && e.rule !== '') s += ` rule ${JSON.stringify(e.rule)}:`;
  else if (e.ruleIndex !== undefined) s += ` rule #${e.ruleIndex}:`;
  return `${s} ${e.reason}`;
}

/** Every error found while loading a rule set (all files, all rules), so `check` can print them all. */
export class RuleLoadErrors extends Error {
  constructor(readonly errors: readonly RuleLoadError[]) {
    super(
      errors.length === 1
        ? errors[0]!.message
        : `${errors.length} errors loading rules:\n${errors.map((e) => `  ${e.message}`).join('\n')}`,
    );
    this.name = 'RuleLoadErrors';
  }
}
