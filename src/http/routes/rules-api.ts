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
import { evidenceJson } from '../../rules/evidence.js';
import type { LoadedRule, RuleEngine } from '../../rules/engine.js';

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
    ...(a.evidence !== undefined ? { evidence: evidenceJson(a.evidence) } : {}), // evidence (#18), a sidecar extension
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

function groupsJson(engine: RuleEngine, type: string | undefined) {
  const byGroup = new Map<string, LoadedRule[]>();
  for (const r of engine.loadedRules()) {
    const key = `${r.group.file}\u0000${r.group.name}`;
    byGroup.set(key, [...(byGroup.get(key) ?? []), r]);
  }
  return engine.ruleGroups().map((g) => {
    const rules = (byGroup.get(`${g.file}\u0000${g.name}`) ?? [])
      .filter((r) => type === undefined || (type === 'alert' ? r.def.kind === 'alert' : r.def.kind === 'record'))
      .map(ruleJson);
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
