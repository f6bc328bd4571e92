/**
 * The rules and alerts API in Prometheus's JSON format, so Grafana, `curl | jq`
 * habits and the seed's "did the ruler load the rules" check work here too.
 * Served at /api/v1/*, /prometheus/api/v1/* (Loki's Prometheus-compatible
 * paths) and /loki/api/v1/rules (JSON unless YAML is asked for, as Loki's
 * ruler API returns YAML; the seed pipes that path into a JSON tool).
 */
import type { FastifyPluginAsync } from 'fastify';
import { stringify as toYaml } from 'yaml';
import type { Alert } from '../../rules/alert.js';
import { AlertState } from '../../rules/alert.js';
import type { LoadedRule, RuleEngine } from '../../rules/engine.js';
import type { SkippedRule } from '../../rules/rule-file.js';

export interface RulesApiOptions {
  engine: RuleEngine;
}

/** Go's strconv.FormatFloat(v, 'e', -1, 64): Prometheus's value format in this API. */
export function formatPromValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const [mant, exp] = v.toExponential().split('e');
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString() : '0001-01-01T00:00:00Z');

function alertJson(a: Alert) {
  return {
    labels: a.labels,
    annotations: a.annotations,
    state: a.state,
    activeAt: iso(a.activeAtMs),
    value: formatPromValue(a.value),
    ...(a.state === AlertState.Firing ? { firedAt: iso(a.firedAtMs) } : {}),
  };
}

function ruleJson(r: LoadedRule) {
  const common = {
    name: r.def.name,
    query: r.def.exprText,
    labels: r.def.labels,
    health: r.health,
    lastError: r.lastError || undefined,
    lastEvaluation: iso(r.lastEvaluationMs),
    evaluationTime: r.evaluationSeconds,
  };
  if (r.alerting === undefined || r.def.kind !== 'alert') return { ...common, type: 'recording' };
  const alerts = r.alerting.alerts().filter((a) => a.state !== AlertState.Inactive);
  const state = alerts.some((a) => a.state === AlertState.Firing) ? 'firing' : alerts.length > 0 ? 'pending' : 'inactive';
  return {
    state,
    ...common,
    duration: r.def.forMs / 1000,
    keepFiringFor: r.def.keepFiringForMs / 1000,
    annotations: r.def.annotations,
    alerts: alerts.map(alertJson),
    type: 'alerting',
  };
}

/**
 * A rule that is loaded but never evaluated, in the same shape (health
 * "unknown", never evaluated) plus `skipped: true`, `skipReason`
 * (`unsupported` | `not_applicable`) and `reason`: extra fields, which
 * Prometheus API clients ignore.
 */
function skippedRuleJson(s: SkippedRule) {
  const common = {
    name: s.rule,
    query: s.exprText,
    labels: s.labels,
    health: 'unknown',
    lastError: undefined,
    lastEvaluation: iso(0),
    evaluationTime: 0,
    skipped: true,
    skipReason: s.cause,
    reason: s.reason,
  };
  if (s.kind === 'record') return { ...common, type: 'recording' };
  return { state: 'inactive', ...common, duration: s.forMs / 1000, keepFiringFor: 0, annotations: s.annotations, alerts: [], type: 'alerting' };
}

function groupsJson(engine: RuleEngine, type: string | undefined) {
  const byGroup = new Map<string, Array<{ index: number; json: ReturnType<typeof ruleJson> | ReturnType<typeof skippedRuleJson> }>>();
  const add = (file: string, group: string, kind: 'alert' | 'record', index: number, json: () => ReturnType<typeof ruleJson> | ReturnType<typeof skippedRuleJson>): void => {
    if (type !== undefined && type !== kind) return;
    const key = `${file}\u0000${group}`;
    byGroup.set(key, [...(byGroup.get(key) ?? []), { index, json: json() }]);
  };
  for (const r of engine.loadedRules()) add(r.group.file, r.group.name, r.def.kind, r.def.index, () => ruleJson(r));
  for (const s of engine.skippedRules()) add(s.file, s.group, s.kind, s.index, () => skippedRuleJson(s));
  return engine.ruleGroups().map((g) => {
    // File order, loaded and skipped rules together.
    const rules = (byGroup.get(`${g.file}\u0000${g.name}`) ?? []).sort((a, b) => a.index - b.index).map((r) => r.json);
    return {
      name: g.name,
      file: g.file,
      rules,
      interval: g.intervalMs / 1000,
      limit: g.limit,
      evaluationTime: rules.reduce((s, r) => s + r.evaluationTime, 0),
      lastEvaluation: rules.reduce((m, r) => (r.lastEvaluation > m ? r.lastEvaluation : m), '0001-01-01T00:00:00Z'),
    };
  });
}

/** Loki's ruler API shape: namespace (file) → groups of rule definitions, as YAML. */
function lokiRulesYaml(engine: RuleEngine): string {
  const out: Record<string, unknown[]> = {};
  for (const g of engine.ruleGroups()) {
    const rules = g.rules.map((d) => {
      const base = d.kind === 'alert' ? { alert: d.name, expr: d.exprText, for: `${d.forMs / 1000}s` } : { record: d.name, expr: d.exprText };
      return { ...base, ...(Object.keys(d.labels).length ? { labels: d.labels } : {}), ...(d.kind === 'alert' && Object.keys(d.annotations).length ? { annotations: d.annotations } : {}) };
    });
    (out[g.file] ??= []).push({ name: g.name, ...(g.intervalMs ? { interval: `${g.intervalMs / 1000}s` } : {}), rules });
  }
  return toYaml(out);
}

export const rulesApiRoutes: FastifyPluginAsync<RulesApiOptions> = async (app, opts) => {
  const rules = async (req: { query: unknown }) => {
    const type = (req.query as { type?: string }).type;
    return { status: 'success', data: { groups: groupsJson(opts.engine, type === 'alert' || type === 'record' ? type : undefined) } };
  };
  const alerts = async () => ({
    status: 'success',
    data: { alerts: opts.engine.alerts().filter(({ alert }) => alert.state !== AlertState.Inactive).map(({ alert }) => alertJson(alert)) },
  });
  app.get('/api/v1/rules', rules);
  app.get('/prometheus/api/v1/rules', rules);
  app.get('/api/v1/alerts', alerts);
  app.get('/prometheus/api/v1/alerts', alerts);
  app.get('/loki/api/v1/rules', async (req, reply) => {
    const accept = req.headers.accept ?? '';
    if (/yaml/i.test(accept)) return reply.type('application/yaml').send(lokiRulesYaml(opts.engine));
    return rules(req);
  });
};
