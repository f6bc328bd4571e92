/**
 * The chart's PrometheusRule for the sidecar itself: strictly valid, every
 * expression parsed by promtool, every metric and label it uses exported by
 * the real sidecar, and the alerts unit-tested with `promtool test rules` on
 * synthetic series (they fire when they should, and not before).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parseBytes } from '../../src/config/schema.js';
import { findOne, helmTemplate, validateManifest, type RenderOptions } from '../helpers/helm.js';
import { requireBinary } from '../helpers/daemon-process.js';
import { PROMTOOL_BIN } from '../helpers/prometheus.js';
import { metricNames, scrapeLiveSidecar, type Exposition } from './live-metrics.js';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const work = mkdtempSync(join(tmpdir(), 'tas-promrule-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function render(o: RenderOptions = {}): { pr: IPrometheusRule; rules: Rule[] } {
  const objs = helmTemplate({ ...o, set: ['prometheusRule.enabled=true', ...(o.set ?? [])] });
  const pr = findOne<IPrometheusRule>(objs, 'PrometheusRule');
  return { pr, rules: pr.spec.groups![0]!.rules as unknown as Rule[] };
}

function promtool(args: string[]): { status: number | null; out: string } {
  requireBinary(PROMTOOL_BIN, 'prometheus');
  const r = spawnSync(PROMTOOL_BIN, args, { encoding: 'utf8', timeout: 60_000, cwd: work });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

const { pr, rules } = render();
const ALL = [
  'TalosAlertSidecarDown',
  'TalosAlertSidecarAlertmanagerErrors',
  'TalosAlertSidecarAlertsDropped',
  'TalosAlertSidecarLokiLinesDropped',
  'TalosAlertSidecarSpoolNearlyFull',
  'TalosAlertSidecarSpoolCorrupt',
  'TalosAlertSidecarRuleReloadFailed',
  'TalosAlertSidecarNoLinesFromHost',
  'TalosAlertSidecarNoLines',
];

describe('PrometheusRule', () => {
  it('renders every alert, strictly valid, each with a severity and a summary', () => {
    validateManifest(pr as never);
    expect(rules.map((r) => r.alert)).toEqual(ALL);
    for (const r of rules) {
      expect(['warning', 'critical']).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
    }
  });

  it('leaves out the Loki alerts without Loki, and the spool alerts without a spool', () => {
    const noLoki = render({ setJson: ['loki.url=""'] }).rules.map((r) => r.alert);
    expect(noLoki).not.toContain('TalosAlertSidecarLokiLinesDropped');
    expect(noLoki).not.toContain('TalosAlertSidecarSpoolNearlyFull');
    const noSpool = render({ set: ['loki.spool.enabled=false'] }).rules.map((r) => r.alert);
    expect(noSpool).toContain('TalosAlertSidecarLokiLinesDropped');
    expect(noSpool).not.toContain('TalosAlertSidecarSpoolCorrupt');
  });

  it("the spool threshold is the sidecar's own reading of loki.spool.maxSize", () => {
    for (const size of ['768MiB', '2GiB', '1.5GiB', '1000000', '10MB', '512KiB', '64kb']) {
      const spool = render({ setJson: [`loki.spool.maxSize="${size}"`, 'prometheusRule.spoolFullRatio=0.75'] }).rules.find((r) => r.alert === 'TalosAlertSidecarSpoolNearlyFull')!;
      const threshold = /> 0\.75 \* (\d+)$/.exec(spool.expr)?.[1];
      expect(Number(threshold), size).toBe(parseBytes(size));
    }
  });

  it('parses with promtool check rules', () => {
    writeFileSync(join(work, 'rules.yaml'), toYaml({ groups: pr.spec.groups }));
    const r = promtool(['check', 'rules', 'rules.yaml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`${ALL.length} rules found`);
  });
});

describe('PrometheusRule against the real /metrics', () => {
  let exported: Exposition;
  beforeAll(async () => {
    exported = await scrapeLiveSidecar();
  }, 60_000);

  it('uses only metrics and labels the sidecar exports (and Prometheus` own `up`)', () => {
    const target = new Set(['job', 'namespace', 'pod', 'instance']);
    for (const r of rules) {
      const names = metricNames(r.expr).filter((n) => n !== 'up');
      expect(names.length + (r.expr.includes('up{') ? 1 : 0), r.alert).toBeGreaterThan(0);
      for (const n of names) {
        expect(exported.names.has(n), `${r.alert}: ${n}`).toBe(true);
        const seen = exported.labels.get(n) ?? new Set<string>();
        for (const g of r.expr.matchAll(/\bby \(([^)]*)\)/g)) {
          for (const l of g[1]!.split(',').map((x) => x.trim())) {
            if (!target.has(l) && seen.size > 0) expect(seen.has(l), `${r.alert}: ${n} has label ${l}`).toBe(true);
          }
        }
      }
    }
  });
});

describe('promtool test rules', () => {
  // Series as Prometheus would scrape them through the chart's ServiceMonitor: job = the
  // chart name, namespace, pod.
  const T = { job: 'talos-alert-sidecar', namespace: 'monitoring' };
  const NS = { namespace: T.namespace }; // what `sum by (namespace, pod, …)` keeps
  const sel = (metric: string, labels: Record<string, string>): string =>
    `${metric}{${Object.entries({ ...T, ...labels }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  const byName = (n: string): Rule => rules.find((r) => r.alert === n)!;
  const expectAlert = (name: string, labels: Record<string, string>, annotationLabels: Record<string, string>): unknown => {
    const rule = byName(name);
    const fill = (s: string): string => s.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => annotationLabels[l] ?? '');
    return {
      exp_labels: { ...labels, ...rule.labels },
      exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, fill(v)])),
    };
  };

  it('fire when they should, and not before', () => {
    writeFileSync(join(work, 'rules.yaml'), toYaml({ groups: pr.spec.groups }));
    const pod0 = { pod: 'tas-0' };
    const tests = {
      rule_files: ['rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // tas-0 receives from n1 for 20 minutes, then n1 goes silent; n2 keeps sending.
            { series: sel('talos_alert_sidecar_lines_received_total', { ...pod0, host: 'n1', stream: 'kernel' }), values: '0+10x20 200x40' },
            { series: sel('talos_alert_sidecar_lines_received_total', { ...pod0, host: 'n2', stream: 'kernel' }), values: '0+10x60' },
            { series: sel('up', pod0), values: '1x60' },
            // tas-1 is up but nobody sends to it.
            { series: sel('up', { pod: 'tas-1' }), values: '1x60' },
            // tas-0's rule reload fails at minute 30.
            { series: sel('talos_alert_sidecar_rules_last_reload_successful', pod0), values: '1x30 0x30' },
            // Alertmanager errors from minute 10 on.
            { series: sel('talos_alert_sidecar_alertmanager_errors_total', { ...pod0, alertmanager: 'http://am:9093' }), values: '0x10 1+1x50' },
          ],
          alert_rule_test: [
            // Silent for 15m (noLinesFor) only at minute 35, then `for: 5m`.
            { eval_time: '38m', alertname: 'TalosAlertSidecarNoLinesFromHost', exp_alerts: [] },
            { eval_time: '45m', alertname: 'TalosAlertSidecarNoLinesFromHost', exp_alerts: [expectAlert('TalosAlertSidecarNoLinesFromHost', { ...NS, ...pod0, host: 'n1' }, { ...pod0, host: 'n1' })] },
            // A pod with no lines at all: `for: 15m` from the first evaluation.
            { eval_time: '10m', alertname: 'TalosAlertSidecarNoLines', exp_alerts: [] },
            { eval_time: '20m', alertname: 'TalosAlertSidecarNoLines', exp_alerts: [expectAlert('TalosAlertSidecarNoLines', { ...NS, pod: 'tas-1' }, { pod: 'tas-1' })] },
            { eval_time: '33m', alertname: 'TalosAlertSidecarRuleReloadFailed', exp_alerts: [] },
            { eval_time: '40m', alertname: 'TalosAlertSidecarRuleReloadFailed', exp_alerts: [expectAlert('TalosAlertSidecarRuleReloadFailed', { ...NS, ...pod0 }, pod0)] },
            { eval_time: '15m', alertname: 'TalosAlertSidecarAlertmanagerErrors', exp_alerts: [] },
            {
              eval_time: '30m',
              alertname: 'TalosAlertSidecarAlertmanagerErrors',
              exp_alerts: [expectAlert('TalosAlertSidecarAlertmanagerErrors', { ...NS, ...pod0, alertmanager: 'http://am:9093' }, { ...pod0, alertmanager: 'http://am:9093' })],
            },
            { eval_time: '30m', alertname: 'TalosAlertSidecarDown', exp_alerts: [] },
          ],
        },
        {
          interval: '1m',
          input_series: [{ series: sel('up', pod0), values: '1x5 0x20' }],
          alert_rule_test: [
            { eval_time: '8m', alertname: 'TalosAlertSidecarDown', exp_alerts: [] },
            { eval_time: '12m', alertname: 'TalosAlertSidecarDown', exp_alerts: [expectAlert('TalosAlertSidecarDown', { ...T, ...pod0 }, pod0)] },
          ],
        },
      ],
    };
    writeFileSync(join(work, 'tests.yaml'), toYaml(tests));
    const r = promtool(['test', 'rules', 'tests.yaml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });
});
