/**
 * The rules and alerts API's answers, built once per change rather than once
 * per request: with 5 000 firing alerts one answer is ~1 MB of JSON, and 50
 * pollers building it each time starved alerting. Pieces are kept already
 * serialised — per alert, per rule (with and without its alerts), per group
 * header — so a request only joins strings (and filters or pages over them).
 *
 * An answer is rebuilt when alert state changed (the generation counter,
 * bumped on every AlertChange), when the rules were reloaded, or when it is
 * older than `maxAgeMs` (values and evaluation times move without a state
 * change). Rebuilds for state changes draw on a budget of build time that
 * refills at a tenth of wall time (bursts up to REBUILD_BURST_MS): an answer
 * is current whenever changes are occasional, and constant churn (a flapping
 * attack) with many pollers spends at most a tenth of the time building —
 * in between, pollers get the last answer (at most `maxAgeMs` old).
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Alert } from '../rules/alert.js';
import { AlertState } from '../rules/alert.js';
import { evidenceJson } from '../rules/evidence.js';
import type { LoadedRule, RuleEngine } from '../rules/engine.js';
import type { RuleGroupDef, SkippedRule } from '../rules/rule-file.js';

/** Go's strconv.FormatFloat(v, 'e', -1, 64): Prometheus's value format in this API. */
export function formatPromValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const [mant, exp] = v.toExponential().split('e');
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString() : '0001-01-01T00:00:00Z');

function alertJson(a: Alert): string {
  return JSON.stringify({
    labels: a.labels,
    annotations: a.annotations,
    state: a.state,
    activeAt: iso(a.activeAtMs),
    value: formatPromValue(a.value),
    ...(a.state === AlertState.Firing ? { firedAt: iso(a.firedAtMs) } : {}),
    ...(a.evidence !== undefined ? { evidence: evidenceJson(a.evidence) } : {}), // evidence (#18), a sidecar extension
  });
}

/** One rule, serialised with its alerts and without (exclude_alerts). */
export interface RuleAnswer {
  readonly name: string;
  readonly kind: 'alert' | 'record';
  readonly json: string;
  readonly jsonNoAlerts: string;
  readonly evaluationTime: number;
  readonly lastEvaluation: string;
}

export interface GroupAnswer {
  readonly file: string;
  readonly name: string;
  readonly intervalSec: number;
  readonly limit: number;
  /** Prometheus's pagination token for the group (web/api/v1/api.go getRuleGroupNextToken: sha1 of "file;group"). */
  readonly token: string;
  readonly rules: readonly RuleAnswer[];
}

function ruleAnswer(r: LoadedRule): RuleAnswer {
  const common = {
    name: r.def.name,
    query: r.def.exprText,
    labels: r.def.labels,
    health: r.health,
    lastError: r.lastError || undefined,
    lastEvaluation: iso(r.lastEvaluationMs),
    evaluationTime: r.evaluationSeconds,
  };
  if (r.alerting === undefined || r.def.kind !== 'alert') {
    const json = JSON.stringify({ ...common, type: 'recording' });
    return { name: r.def.name, kind: 'record', json, jsonNoAlerts: json, evaluationTime: r.evaluationSeconds, lastEvaluation: common.lastEvaluation };
  }
  const alerts = r.alerting.alerts().filter((a) => a.state !== AlertState.Inactive);
  const state = alerts.some((a) => a.state === AlertState.Firing) ? 'firing' : alerts.length > 0 ? 'pending' : 'inactive';
  const head = { state, ...common, duration: r.def.forMs / 1000, keepFiringFor: r.def.keepFiringForMs / 1000, annotations: r.def.annotations };
  const headJson = JSON.stringify(head).slice(0, -1);
  return {
    name: r.def.name,
    kind: 'alert',
    json: `${headJson},"alerts":[${alerts.map(alertJson).join(',')}],"type":"alerting"}`,
    jsonNoAlerts: `${headJson},"type":"alerting"}`,
    evaluationTime: r.evaluationSeconds,
    lastEvaluation: common.lastEvaluation,
  };
}

/**
 * A rule that is loaded but never evaluated (unsupported LogQL, or stream
 * selectors that can never match this sidecar's labels), in the same shape
 * (health "unknown", never evaluated) plus `skipped: true`, `skipReason`
 * (`unsupported` | `not_applicable`) and `reason`: extra fields, which
 * Prometheus API clients ignore.
 */
function skippedRuleAnswer(s: SkippedRule): RuleAnswer {
  const common = { name: s.rule, query: s.exprText, labels: s.labels, health: 'unknown', lastEvaluation: iso(0), evaluationTime: 0, skipped: true, skipReason: s.cause, reason: s.reason };
  if (s.kind === 'record') {
    const json = JSON.stringify({ ...common, type: 'recording' });
    return { name: s.rule, kind: 'record', json, jsonNoAlerts: json, evaluationTime: 0, lastEvaluation: common.lastEvaluation };
  }
  const head = JSON.stringify({ state: 'inactive', ...common, duration: s.forMs / 1000, keepFiringFor: 0, annotations: s.annotations }).slice(0, -1);
  return { name: s.rule, kind: 'alert', json: `${head},"alerts":[],"type":"alerting"}`, jsonNoAlerts: `${head},"type":"alerting"}`, evaluationTime: 0, lastEvaluation: common.lastEvaluation };
}

export function groupToken(file: string, group: string): string {
  return createHash('sha1').update(`${file};${group}`).digest('hex');
}

/** Build time (ms) that may be spent at once before state-change rebuilds are rationed. */
const REBUILD_BURST_MS = 200;
/** Share of wall time state-change rebuilds may take under constant churn. */
const REBUILD_DUTY = 0.1;

/** Build-time budget: refills with wall time at REBUILD_DUTY, capped at REBUILD_BURST_MS. */
class RebuildBudget {
  private credit = REBUILD_BURST_MS;
  private at = performance.now();

  allows(now: number): boolean {
    this.credit = Math.min(REBUILD_BURST_MS, this.credit + (now - this.at) * REBUILD_DUTY);
    this.at = now;
    return this.credit > 0;
  }

  spend(ms: number): void {
    this.credit -= ms;
  }
}

export interface AnswerStats {
  builds: number;
  buildSeconds: number;
}

export class RulesApiAnswers {
  private generation = 0;
  private readonly unsubscribe: () => void;
  private alertsCache: { gen: number; rules: readonly LoadedRule[]; at: number; alerts: string[] } | undefined;
  private groupsCache: { gen: number; rules: readonly LoadedRule[]; at: number; groups: GroupAnswer[] } | undefined;
  private readonly budgets = { alerts: new RebuildBudget(), rules: new RebuildBudget() };
  readonly stats: Record<'alerts' | 'rules', AnswerStats> = { alerts: { builds: 0, buildSeconds: 0 }, rules: { builds: 0, buildSeconds: 0 } };

  constructor(
    private readonly engine: RuleEngine,
    private readonly minRebuildMs: number,
    /** Values and evaluation times in a cached answer are at most this old (ms). */
    private readonly maxAgeMs: number,
  ) {
    this.unsubscribe = engine.onAlert(() => this.generation++);
  }

  close(): void {
    this.unsubscribe();
  }

  private stale(which: 'alerts' | 'rules', c: { gen: number; rules: readonly LoadedRule[]; at: number } | undefined, now: number): boolean {
    if (c === undefined || c.rules !== this.engine.loadedRules()) return true;
    const age = now - c.at;
    if (age >= this.maxAgeMs) return true;
    return c.gen !== this.generation && age >= this.minRebuildMs && this.budgets[which].allows(now);
  }

  /** Every pending and firing alert, serialised (in rule order). */
  alerts(): readonly string[] {
    const now = performance.now();
    if (this.stale('alerts', this.alertsCache, now)) {
      const out: string[] = [];
      for (const { alert } of this.engine.alerts()) if (alert.state !== AlertState.Inactive) out.push(alertJson(alert));
      this.alertsCache = { gen: this.generation, rules: this.engine.loadedRules(), at: now, alerts: out };
      this.count('alerts', now);
    }
    return this.alertsCache!.alerts;
  }

  /** Every group with its rules, serialised (in file/group order). */
  groups(): readonly GroupAnswer[] {
    const now = performance.now();
    if (this.stale('rules', this.groupsCache, now)) {
      // Loaded and skipped rules of a group together, in file order.
      const byGroup = new Map<string, Array<{ index: number; answer: () => RuleAnswer }>>();
      const add = (file: string, group: string, index: number, answer: () => RuleAnswer): void => {
        const key = `${file}\u0000${group}`;
        let list = byGroup.get(key);
        if (list === undefined) byGroup.set(key, (list = []));
        list.push({ index, answer });
      };
      for (const r of this.engine.loadedRules()) add(r.group.file, r.group.name, r.def.index, () => ruleAnswer(r));
      for (const sk of this.engine.skippedRules()) add(sk.file, sk.group, sk.index, () => skippedRuleAnswer(sk));
      const groups = this.engine.ruleGroups().map((g: RuleGroupDef) => ({
        file: g.file,
        name: g.name,
        intervalSec: g.intervalMs / 1000,
        limit: g.limit,
        token: groupToken(g.file, g.name),
        rules: (byGroup.get(`${g.file}\u0000${g.name}`) ?? []).sort((a, b) => a.index - b.index).map((x) => x.answer()),
      }));
      this.groupsCache = { gen: this.generation, rules: this.engine.loadedRules(), at: now, groups };
      this.count('rules', now);
    }
    return this.groupsCache!.groups;
  }

  private count(which: 'alerts' | 'rules', started: number): void {
    const took = performance.now() - started;
    this.budgets[which].spend(took);
    this.stats[which].builds++;
    this.stats[which].buildSeconds += took / 1000;
  }
}

/** A group as the API shows it, from its kept pieces and the rules a request selected. */
export function groupJson(g: GroupAnswer, rules: readonly RuleAnswer[], excludeAlerts: boolean): string {
  let evaluationTime = 0;
  let lastEvaluation = '0001-01-01T00:00:00Z';
  for (const r of rules) {
    evaluationTime += r.evaluationTime;
    if (r.lastEvaluation > lastEvaluation) lastEvaluation = r.lastEvaluation;
  }
  const body = rules.map((r) => (excludeAlerts ? r.jsonNoAlerts : r.json)).join(',');
  return `{"name":${JSON.stringify(g.name)},"file":${JSON.stringify(g.file)},"rules":[${body}],"interval":${g.intervalSec},"limit":${g.limit},"evaluationTime":${evaluationTime},"lastEvaluation":${JSON.stringify(lastEvaluation)}}`;
}
