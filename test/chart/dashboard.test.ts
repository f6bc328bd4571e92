/**
 * The Grafana dashboard: well-formed dashboard JSON (ids, layout, data source
 * and variable references, units), every PromQL expression accepted by
 * Prometheus' own parser (promtool), every metric and label it queries present
 * in the real sidecar's /metrics after real Talos lines went through it, and
 * every exported metric family shown in a panel or deliberately hidden
 * (chart/dashboards/hidden-metrics.json).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { CHART_DIR, REPO_ROOT } from '../helpers/helm.js';
import { requireBinary } from '../helpers/daemon-process.js';
import { PROMTOOL_BIN } from '../helpers/prometheus.js';
import { familyOf, metricNames, scrapeLiveSidecar, type Exposition } from './live-metrics.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  fieldConfig?: { defaults: { unit?: string } };
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  id: number | null;
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
  time: { from: string; to: string };
  tags: string[];
}

const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards/talos-alert-sidecar.json'), 'utf8')) as Dashboard;
const hidden = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards/hidden-metrics.json'), 'utf8')) as { metrics: Record<string, string>; pending?: Record<string, string> };
const pending = hidden.pending ?? {};
const panels = dashboard.panels;
const queryPanels = panels.filter((p) => p.type !== 'row');
const variables = dashboard.templating.list;
const variableQueries = variables.filter((v) => v.type === 'query').map((v) => (typeof v.query === 'string' ? v.query : v.query.query));

/** Grafana's `label_values(selector, label)` → the PromQL selector inside it. */
function selectorOfLabelValues(q: string): string {
  const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(q.trim());
  expect(m, `label_values query: ${q}`).not.toBeNull();
  return m![1]!;
}

const PANEL_EXPRS = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title}/${t.refId}`, expr: t.expr })));
const VARIABLE_EXPRS = variables
  .filter((v) => v.type === 'query')
  .map((v) => ({ where: `$${v.name}`, expr: selectorOfLabelValues(typeof v.query === 'string' ? v.query : v.query.query) }));
const ALL_EXPRS = [...PANEL_EXPRS, ...VARIABLE_EXPRS];

/** Grafana variables → concrete values so promtool can parse the expression. */
function concrete(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '30s')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?([a-zA-Z_]\w*)\}?/g, '.*');
}

const TARGET_LABELS = ['job', 'instance', 'le', 'namespace', 'pod', 'node', 'container', 'service', 'endpoint'];

/** Label names an expression filters or groups on, except target labels Prometheus adds itself. */
function labelNames(expr: string): string[] {
  const out = new Set<string>();
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const m of noStrings.matchAll(/\{([^}]*)\}/g)) {
    for (const l of m[1]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) out.add(l[1]!);
  }
  for (const m of noStrings.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',')) if (l.trim() !== '') out.add(l.trim());
  }
  // Target labels Prometheus and the ServiceMonitor add (never on /metrics itself), and `le`.
  for (const t of TARGET_LABELS) out.delete(t);
  return [...out];
}

describe('dashboard JSON', () => {
  it('has the top-level fields Grafana provisioning needs', () => {
    expect(dashboard.id).toBeNull();
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title.length).toBeGreaterThan(0);
    expect(Number.isInteger(dashboard.schemaVersion)).toBe(true);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36); // data source references by uid
    expect(dashboard.time).toEqual({ from: 'now-1h', to: 'now' });
    expect(Array.isArray(dashboard.tags)).toBe(true);
  });

  it('has unique panel ids and a layout on the 24-column grid without overlaps', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      for (const n of [x, y, w, h]) expect(Number.isInteger(n), `${p.title} gridPos`).toBe(true);
      expect(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24, `${p.title} inside the grid`).toBe(true);
      if (p.type === 'row') expect(p.gridPos).toMatchObject({ x: 0, w: 24, h: 1 });
    }
    for (let i = 0; i < panels.length; i++) {
      for (let j = i + 1; j < panels.length; j++) {
        const a = panels[i]!.gridPos;
        const b = panels[j]!.gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${panels[i]!.title} overlaps ${panels[j]!.title}`).toBe(false);
      }
    }
  });

  it('uses known panel types, each query panel on the Prometheus data source variable', () => {
    const datasourceVar = variables.find((v) => v.type === 'datasource');
    expect(datasourceVar?.query).toBe('prometheus');
    const ref = { type: 'prometheus', uid: `\${${datasourceVar!.name}}` };
    for (const p of panels) expect(['row', 'timeseries', 'stat', 'table'], p.title).toContain(p.type);
    expect(queryPanels.length).toBeGreaterThan(10);
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual(ref);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `${p.title} refIds`).toBe(refIds.length);
      for (const t of p.targets!) expect(t.datasource ?? ref).toEqual(ref);
    }
    for (const v of variables.filter((x) => x.type === 'query')) expect(v.datasource).toEqual(ref);
  });

  it('defines every variable its queries use', () => {
    const defined = new Set(variables.map((v) => v.name));
    for (const { where, expr } of ALL_EXPRS) {
      for (const m of expr.matchAll(/\$\{?([a-zA-Z_]\w*)\}?/g)) {
        if (m[1]!.startsWith('__')) continue; // Grafana built-ins ($__rate_interval, …)
        expect(defined.has(m[1]!), `${where}: $${m[1]}`).toBe(true);
      }
    }
  });

  it('shows what the issues ask for', () => {
    const exprs = PANEL_EXPRS.map((e) => e.expr);
    const has = (re: RegExp): boolean => exprs.some((e) => re.test(e));
    expect(has(/sum by \(host, stream\) \(rate\(talos_alert_sidecar_lines_received_total/)).toBe(true);
    expect(has(/sum by \(rule_group, rule\) \(rate\(talos_alert_sidecar_rule_matches_total/)).toBe(true);
    expect(has(/sum by \(state\) \(talos_alert_sidecar_alerts\{/)).toBe(true);
    expect(has(/sum by \(alertname, state\) \(talos_alert_sidecar_alerts\{[^}]*state!="inactive"/), 'alerts by rule').toBe(true);
    expect(has(/talos_alert_sidecar_connections_refused_total/)).toBe(true);
    expect(has(/talos_alert_sidecar_connections_evicted_total/)).toBe(true);
    expect(has(/talos_alert_sidecar_loki_spool_bytes/)).toBe(true);
    expect(has(/talos_alert_sidecar_loki_spool_corrupt_total/)).toBe(true);
    expect(has(/sum by \(code\) \(rate\(talos_alert_sidecar_loki_requests_total/)).toBe(true);
    expect(has(/talos_alert_sidecar_rules_loaded/)).toBe(true);
    expect(has(/talos_alert_sidecar_rule_events_too_old_total/)).toBe(true);
    expect(has(/talos_alert_sidecar_timestamp_fallbacks_total/)).toBe(true);
    expect(has(/talos_alert_sidecar_alertmanager_/)).toBe(true);
  });

  it('has pod and node variables, and every query follows job, pod and node', () => {
    const names = variables.map((v) => v.name);
    for (const n of ['datasource', 'job', 'pod', 'node', 'host']) expect(names).toContain(n);
    for (const { where, expr } of PANEL_EXPRS) {
      for (const l of ['job', 'pod', 'node']) {
        for (const sel of expr.matchAll(/[a-z_:]+\{([^}]*)\}/g)) expect(sel[1], `${where}: ${l}=~"$${l}"`).toContain(`${l}=~"$${l}"`);
      }
    }
  });

  it('uses the right unit for what each panel plots', () => {
    const unitFor = (expr: string): string | undefined => {
      if (/histogram_quantile\(.*_seconds_bucket/.test(expr)) return 's';
      if (/rate\([a-z_]*bytes_(received|sent)_total/.test(expr)) return 'Bps';
      if (/rate\([a-z_]*(lines_received|lines_sent|dropped_lines|rule_matches|events_too_old)_total/.test(expr)) return 'suffix: lines/s';
      if (/^time\(\) - /.test(expr)) return 's';
      if (!/rate\(/.test(expr) && /_bytes\{/.test(expr)) return 'bytes';
      return undefined;
    };
    let checked = 0;
    for (const p of queryPanels.filter((x) => x.type !== 'table')) {
      const unit = p.fieldConfig?.defaults.unit;
      expect(unit, `${p.title} has a unit`).toBeDefined();
      const wanted = new Set(p.targets!.map((t) => unitFor(t.expr)).filter((u) => u !== undefined));
      expect(wanted.size, `${p.title}: one unit fits all its queries`).toBeLessThanOrEqual(1);
      if (wanted.size === 1) {
        expect(unit, p.title).toBe([...wanted][0]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('hidden-metrics.json is a list of reasons, none of them queried', () => {
    const queried = new Set(ALL_EXPRS.flatMap((e) => metricNames(e.expr)));
    for (const [name, reason] of [...Object.entries(hidden.metrics), ...Object.entries(pending)]) {
      expect(reason.length, name).toBeGreaterThan(10);
      for (const q of queried) expect(q === name || q.startsWith(`${name}_bucket`), `${name} is hidden but queried`).toBe(false);
    }
  });

  it("parses with Prometheus' PromQL parser (promtool check rules)", () => {
    requireBinary(PROMTOOL_BIN, 'prometheus');
    const dir = mkdtempSync(join(tmpdir(), 'tas-dash-'));
    try {
      const file = join(dir, 'dashboard-queries.yaml');
      const rules = ALL_EXPRS.map((e, i) => ({ record: `dashboard:query_${i}`, expr: concrete(e.expr) }));
      writeFileSync(file, toYaml({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync(PROMTOOL_BIN, ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboard queries against the real /metrics', () => {
  let exported: Exposition;
  beforeAll(async () => {
    exported = await scrapeLiveSidecar();
  }, 60_000);

  it('every metric and label the dashboard queries is exported by the sidecar', () => {
    const checkedLabels: string[] = [];
    for (const { where, expr } of ALL_EXPRS) {
      const names = metricNames(expr);
      expect(names.length, `${where} queries a metric`).toBeGreaterThan(0);
      for (const n of names) expect(exported.names.has(n), `${where}: ${n} is not in /metrics`).toBe(true);
      // Labels can be checked where series exist (labelled metrics nobody touched yet have none).
      const seen = new Set(names.flatMap((n) => [...(exported.labels.get(n) ?? [])]));
      if (seen.size === 0) continue;
      for (const l of labelNames(expr)) {
        expect(seen.has(l), `${where}: label ${l} not on ${names.join(', ')}`).toBe(true);
        checkedLabels.push(`${names[0]}:${l}`);
      }
    }
    // The traffic made the key label sets real, so they were checked, not skipped.
    for (const k of [
      'talos_alert_sidecar_lines_received_total:host',
      'talos_alert_sidecar_lines_received_total:stream',
      'talos_alert_sidecar_rule_matches_total:rule_group',
      'talos_alert_sidecar_rule_matches_total:rule',
      'talos_alert_sidecar_alerts:state',
      'talos_alert_sidecar_alerts:alertname',
      'talos_alert_sidecar_bytes_received_total:proto',
      'talos_alert_sidecar_alertmanager_alerts_sent_total:alertmanager',
      'talos_alert_sidecar_alertmanager_queue_length:alertmanager',
      'talos_alert_sidecar_loki_requests_total:code',
      'talos_alert_sidecar_rules_loaded:type',
      'talos_alert_sidecar_connections_refused_total:reason',
    ]) {
      expect(checkedLabels, k).toContain(k);
    }
  });

  it('every exported metric family is in a panel or deliberately hidden (hidden-metrics.json)', () => {
    const shown = new Set(PANEL_EXPRS.flatMap((e) => metricNames(e.expr)).map((n) => familyOf(n, exported)));
    const families = [...exported.families.keys()];
    expect(families.length).toBeGreaterThan(40);
    const missing = families.filter((f) => !shown.has(f) && hidden.metrics[f] === undefined && pending[f] === undefined);
    expect(missing, 'exported but neither in a panel nor in chart/dashboards/hidden-metrics.json').toEqual([]);
    const stale = Object.keys(hidden.metrics).filter((f) => !exported.families.has(f));
    expect(stale, 'hidden-metrics.json lists families the sidecar does not export').toEqual([]);
  });
});

describe('metricNames (the extraction the live check relies on)', () => {
  it('finds selected metrics, not functions, keywords, labels or strings', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, x) (rate(a_bucket{job=~"$job", y="b c"}[5m])))')).toEqual(['a_bucket']);
    expect(metricNames('time() - min(b{k="v"} > 0) or vector(0)')).toEqual(['b']);
    expect(metricNames('sum without (instance) (c) / on (job) group_left (z) d')).toEqual(['c', 'd']);
    expect(labelNames('sum by (host, stream) (rate(m{job=~"$job", host=~"$host"}[1m]))').sort()).toEqual(['host', 'stream']);
  });

  it('has something to check: the repository has a dashboard under chart/', () => {
    expect(ALL_EXPRS.length).toBeGreaterThan(20);
    expect(REPO_ROOT.length).toBeGreaterThan(0);
  });
});
