/**
 * The Grafana dashboard: well-formed dashboard JSON (ids, layout, data source
 * and variable references), every PromQL expression accepted by Prometheus'
 * own parser (promtool), and every metric and label it queries present in the
 * real sidecar's /metrics after real Talos lines went through it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { defaultConfig, validate } from '../../src/config/schema.js';
import { CHART_DIR, REPO_ROOT } from '../helpers/helm.js';
import { startAlertmanager } from '../helpers/alertmanager.js';
import { requireBinary } from '../helpers/daemon-process.js';
import { startLokiReceiver } from '../helpers/loki-receiver.js';
import { PROMTOOL_BIN } from '../helpers/prometheus.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
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

const KEYWORDS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan',
]);

/** Metric names a PromQL expression selects (strings, matchers, ranges and grouping lists removed first). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(after)) continue; // function or aggregation
    if (KEYWORDS.has(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

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
  for (const t of ['job', 'instance', 'le']) out.delete(t);
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

  it('shows what the issue asks for', () => {
    const exprs = PANEL_EXPRS.map((e) => e.expr);
    const has = (re: RegExp): boolean => exprs.some((e) => re.test(e));
    expect(has(/sum by \(host, stream\) \(rate\(talos_alert_sidecar_lines_received_total/)).toBe(true);
    expect(has(/sum by \(rule_group, rule\) \(rate\(talos_alert_sidecar_rule_matches_total/)).toBe(true);
    expect(has(/sum by \(state\) \(talos_alert_sidecar_alerts\{/)).toBe(true);
    expect(has(/talos_alert_sidecar_loki_/)).toBe(true);
    expect(has(/talos_alert_sidecar_alertmanager_/)).toBe(true);
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
  const work = mkdtempSync(join(tmpdir(), 'tas-dash-live-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Exposition text → metric families and the label names seen on each series name. */
  function parseExposition(text: string): { names: Set<string>; labels: Map<string, Set<string>> } {
    const names = new Set<string>();
    const labels = new Map<string, Set<string>>();
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) {
        const [, name, kind] = type;
        if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
        else if (kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(name! + s);
        else names.add(name!);
        continue;
      }
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
      if (!sample) continue;
      const set = labels.get(sample[1]!) ?? new Set<string>();
      for (const l of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) set.add(l[1]!);
      labels.set(sample[1]!, set);
    }
    return { names, labels };
  }

  it('every metric and label the dashboard queries is exported by the sidecar', async () => {
    // Loaded here, not at the top, so the structural checks above run even while app.ts is being written.
    const { startSidecar } = await import('../../src/app.js');

    // The chart's rules, in the tenant layout the chart mounts them in.
    mkdirSync(join(work, 'rules/fake'), { recursive: true });
    writeFileSync(join(work, 'rules/fake/talos-kernel.yaml'), readFileSync(join(CHART_DIR, 'rules/talos-kernel.yaml')));
    // Real peers, so the Alertmanager and Loki metrics carry their labels: Debian's Alertmanager
    // and the project's Loki push stand-in.
    const am = await startAlertmanager();
    const loki = await startLokiReceiver();
    const cfg = defaultConfig();
    cfg.ingest.listen = '127.0.0.1:0';
    cfg.http.listen = '127.0.0.1:0';
    cfg.rules.paths = [join(work, 'rules')];
    cfg.rules.watch = false;
    cfg.alertmanager.urls = [am.url];
    cfg.loki.url = loki.url;
    cfg.loki.batchWaitMs = 100;
    cfg.loki.spoolDir = join(work, 'spool');
    validate(cfg);
    const sidecar = await startSidecar(cfg, { logger: pino({ level: 'silent' }) });
    try {
      // One kernel record over TCP that the seed's BTRFS rule matches (for: 0m → firing), one service record over UDP.
      const now = new Date().toISOString();
      const kernel = { clock: 1, facility: 'kern', msg: 'BTRFS error (device sdb state EA): parent transid verify failed on logical 1 mirror 1 wanted 2 found 1\n', priority: 'err', seq: 1, 'talos-level': 'error', 'talos-time': now };
      const service = { msg: 'finished scheduled compaction', 'talos-level': 'info', 'talos-service': 'etcd', 'talos-time': now };
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(sidecar.ingest.tcpPort, '127.0.0.1', () => s.end(`${JSON.stringify(kernel)}\n`, () => resolve()));
        s.once('error', reject);
      });
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => udp.send(JSON.stringify(service), sidecar.ingest.udpPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      udp.close();

      // Poll /metrics (bounded) until both records are counted, the alert fired and reached
      // Alertmanager, and Loki took the lines.
      const total = (text: string, name: string): number =>
        [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      let text = '';
      const deadline = Date.now() + 15_000;
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${sidecar.httpPort}/metrics`);
        text = await res.text();
        if (
          total(text, 'talos_alert_sidecar_lines_received_total') >= 2 &&
          /^talos_alert_sidecar_alerts\{[^}]*state="firing"[^}]*\} 1$/m.test(text) &&
          total(text, 'talos_alert_sidecar_alertmanager_alerts_sent_total') >= 1 &&
          total(text, 'talos_alert_sidecar_loki_lines_sent_total') >= 2
        ) {
          break;
        }
        if (Date.now() > deadline) throw new Error(`records not through the pipeline within 15 s:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }

      const exported = parseExposition(text);
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
      // The traffic above made the key label sets real, so they were checked, not skipped.
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
      ]) {
        expect(checkedLabels, k).toContain(k);
      }
    } finally {
      await sidecar.close();
      await Promise.all([am.stop(), loki.close()]);
    }
  }, 60_000);
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
