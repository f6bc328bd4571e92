/**
 * The rules and alerts API in Prometheus's JSON format, so Grafana, `curl | jq`
 * habits and the seed's "did the ruler load the rules" check work here too.
 * Served at /api/v1/*, /prometheus/api/v1/* (Loki's Prometheus-compatible
 * paths) and /loki/api/v1/rules (JSON unless YAML is asked for, as Loki's
 * ruler API returns YAML; the seed pipes that path into a JSON tool).
 *
 * These reads must never slow alerting (issue 16): answers come from
 * RulesApiAnswers (built once per change, not per request); at most
 * `maxConcurrentReads` of them are in flight (slow readers included), the
 * rest get 429 at once; and clients can page: `group_limit` /
 * `group_next_token` and rule filters as Prometheus (web/api/v1/api.go
 * rules()), `limit` for alerts.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { stringify as toYaml } from 'yaml';
import { METRIC_PREFIX } from '../../metrics/registry.js';
import { TotalsCounter } from '../../metrics/totals-counter.js';
import type { RuleEngine } from '../../rules/engine.js';
import type { RuleGroupDef } from '../../rules/rule-file.js';
import { groupJson, RulesApiAnswers, type GroupAnswer } from '../rules-api-answers.js';

export { formatPromValue } from '../rules-api-answers.js';

export interface RulesApiOptions {
  engine: RuleEngine;
  registry?: Registry;
  /** Heavy reads (rules, alerts) answered at once; beyond, 429 (http.max_concurrent_api_reads). */
  maxConcurrentReads?: number;
  /** Least time between rebuilds caused by alert state changes alone (ms; they are also rationed to 10% of the time). */
  minRebuildMs?: number;
  /** Most a cached answer's values may lag (ms). */
  maxAgeMs?: number;
}

class BadRequest extends Error {}

type Query = Record<string, string | string[] | undefined>;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[v.length - 1] : v);

function positiveInt(q: Query, name: string): number | undefined {
  const v = one(q[name]);
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new BadRequest(`${name} needs to be a positive integer`);
  return n;
}

function bool(q: Query, name: string): boolean {
  const v = one(q[name]);
  if (v === undefined || v === '') return false;
  if (/^(true|1|t|T|TRUE|True)$/.test(v)) return true;
  if (/^(false|0|f|F|FALSE|False)$/.test(v)) return false;
  throw new BadRequest(`${name}: invalid boolean "${v}"`);
}

/** The `data` of /api/v1/rules for a request's filters and page. */
function rulesData(groups: readonly GroupAnswer[], q: Query): string {
  const type = one(q.type);
  if (type !== undefined && type !== '' && type !== 'alert' && type !== 'record') throw new BadRequest(`unsupported type "${type}"`);
  const names = new Set(list(q['rule_name[]']));
  const groupNames = new Set(list(q['rule_group[]']));
  const files = new Set(list(q['file[]']));
  const excludeAlerts = bool(q, 'exclude_alerts');
  const groupLimit = positiveInt(q, 'group_limit');
  const nextToken = one(q.group_next_token) ?? '';
  if (nextToken !== '' && groupLimit === undefined) throw new BadRequest('group_next_token requires group_limit');
  const filtered = type !== undefined || names.size > 0 || groupNames.size > 0 || files.size > 0;
  const out: string[] = [];
  let found = nextToken === '';
  let next: string | undefined;
  for (const g of groups) {
    if (!found) {
      if (g.token !== nextToken) continue;
      found = true;
    }
    if ((groupNames.size > 0 && !groupNames.has(g.name)) || (files.size > 0 && !files.has(g.file))) continue;
    const rules = g.rules.filter((r) => (type === undefined || type === '' || r.kind === type) && (names.size === 0 || names.has(r.name)));
    // Prometheus leaves out groups a filter emptied.
    if (filtered && rules.length === 0) continue;
    if (groupLimit !== undefined && out.length === groupLimit) {
      next = g.token;
      break;
    }
    out.push(groupJson(g, rules, excludeAlerts));
  }
  if (!found) throw new BadRequest('invalid group_next_token');
  return `{"groups":[${out.join(',')}]${next === undefined ? '' : `,"groupNextToken":"${next}"`}}`;
}

/** Loki's ruler API shape: namespace (file) → groups of rule definitions, as YAML. */
function lokiRulesYaml(groups: readonly RuleGroupDef[]): string {
  const out: Record<string, unknown[]> = {};
  for (const g of groups) {
    const rules = g.rules.map((d) => {
      const base = d.kind === 'alert' ? { alert: d.name, expr: d.exprText, for: `${d.forMs / 1000}s` } : { record: d.name, expr: d.exprText };
      return { ...base, ...(Object.keys(d.labels).length ? { labels: d.labels } : {}), ...(d.kind === 'alert' && Object.keys(d.annotations).length ? { annotations: d.annotations } : {}) };
    });
    (out[g.file] ??= []).push({ name: g.name, ...(g.intervalMs ? { interval: `${g.intervalMs / 1000}s` } : {}), rules });
  }
  return toYaml(out);
}

export const rulesApiRoutes: FastifyPluginAsync<RulesApiOptions> = async (app, opts) => {
  const answers = new RulesApiAnswers(opts.engine, opts.minRebuildMs ?? 0, opts.maxAgeMs ?? 1000);
  app.addHook('onClose', async () => answers.close());
  const maxInFlight = opts.maxConcurrentReads ?? 16;
  let inFlight = 0;
  let rejected = 0;
  let yamlCache: { groups: readonly RuleGroupDef[]; text: string } | undefined;

  /** Runs a heavy read within the concurrency bound; the slot is held until the reply is flushed or dropped. */
  const heavy = (build: (q: Query) => string | Buffer) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (inFlight >= maxInFlight) {
      rejected++;
      return reply.code(429).header('retry-after', '1').send({ status: 'error', errorType: 'unavailable', error: 'too many concurrent API reads; retry shortly' });
    }
    inFlight++;
    let released = false;
    const release = (): void => {
      if (!released) inFlight--;
      released = true;
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
    try {
      const body = build(req.query as Query);
      return reply.type('application/json; charset=utf-8').send(body);
    } catch (e) {
      release();
      if (!(e instanceof BadRequest)) throw e;
      return reply.code(400).send({ status: 'error', errorType: 'bad_data', error: e.message });
    }
  };

  const success = (data: string): string => `{"status":"success","data":${data}}`;
  // The plain poll (no parameters) is served from one encoded Buffer per build.
  let plainRules: { groups: readonly GroupAnswer[]; body: Buffer } | undefined;
  let plainAlerts: { alerts: readonly string[]; body: Buffer } | undefined;
  const rules = heavy((q) => {
    const groups = answers.groups();
    if (Object.keys(q).length > 0) return success(rulesData(groups, q));
    if (plainRules?.groups !== groups) plainRules = { groups, body: Buffer.from(success(rulesData(groups, q))) };
    return plainRules.body;
  });
  const alerts = heavy((q) => {
    const limit = positiveInt(q, 'limit');
    const all = answers.alerts();
    if (limit === undefined || limit >= all.length) {
      if (plainAlerts?.alerts !== all) plainAlerts = { alerts: all, body: Buffer.from(success(`{"alerts":[${all.join(',')}]}`)) };
      return plainAlerts.body;
    }
    return success(`{"alerts":[${all.slice(0, limit).join(',')}],"truncated":true,"total":${all.length}}`);
  });
  app.get('/api/v1/rules', rules);
  app.get('/prometheus/api/v1/rules', rules);
  app.get('/api/v1/alerts', alerts);
  app.get('/prometheus/api/v1/alerts', alerts);
  app.get('/loki/api/v1/rules', async (req, reply) => {
    const accept = req.headers.accept ?? '';
    if (!/yaml/i.test(accept)) return rules(req, reply);
    const groups = opts.engine.ruleGroups();
    if (yamlCache?.groups !== groups) yamlCache = { groups, text: lokiRulesYaml(groups) };
    return reply.type('application/yaml').send(yamlCache.text);
  });

  if (opts.registry !== undefined) {
    new TotalsCounter(opts.registry, {
      name: `${METRIC_PREFIX}api_answer_builds_total`,
      help: 'Times the rules or alerts API answer was built (once per alert state change at most, not per request).',
      labelNames: ['endpoint'],
      totals: () => [
        [{ endpoint: 'alerts' }, answers.stats.alerts.builds],
        [{ endpoint: 'rules' }, answers.stats.rules.builds],
      ],
    });
    new TotalsCounter(opts.registry, {
      name: `${METRIC_PREFIX}api_answer_build_seconds_total`,
      help: 'Time spent building rules and alerts API answers.',
      labelNames: ['endpoint'],
      totals: () => [
        [{ endpoint: 'alerts' }, answers.stats.alerts.buildSeconds],
        [{ endpoint: 'rules' }, answers.stats.rules.buildSeconds],
      ],
    });
    new TotalsCounter(opts.registry, {
      name: `${METRIC_PREFIX}api_reads_rejected_total`,
      help: 'Rules/alerts API requests answered 429 because http.max_concurrent_api_reads were in flight.',
      totals: () => [[{}, rejected]],
    });
    new Gauge({
      name: `${METRIC_PREFIX}api_reads_in_flight`,
      help: 'Rules/alerts API answers being sent (slow readers included).',
      registers: [opts.registry],
      collect() {
        this.set(inFlight);
      },
    });
  }
};
