/**
 * Rules that load but never run here: application rules from a shared
 * ConfigMap (not applicable) and unsupported LogQL (skipped by default).
 * Loading, the Prometheus-style rules API and `check`.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { labelsOfConfigFile, runCheck } from '../../src/cli/check.js';
import { defaultConfig } from '../../src/config/schema.js';
import { rulesApiRoutes } from '../../src/http/routes/rules-api.js';
import { talosLabelUniverse } from '../../src/rules/applicability.js';
import { RuleEngine } from '../../src/rules/engine.js';
import { loadRuleSet, parseRuleFile } from '../../src/rules/load.js';

const MIXED = 'test/fixtures/rules-mixed/shared-configmap.yaml';
const SEED = 'rules/talos-kernel.yaml';
const UNSUPPORTED = 'test/fixtures/rules-bad/expr-unsupported.yaml';
const labels = talosLabelUniverse(defaultConfig().talos);
const TALOS_RULES = ['BTRFSCorruptionDetected', 'TalosKernelLogsAbsent', 'KubeletErrors', 'talos:kernel_lines:rate1m'];
const APP_RULES = ['LokiRequestErrors', 'ApiPodPanics', 'IngressLogsMissing', 'PaymentsJsonErrors', 'app:error_lines:rate1m', 'PromtailVarlogErrors'];

describe('loading a shared ConfigMap', () => {
  for (const unsupported of ['skip', 'error'] as const) {
    it(`the seed ConfigMap and a mixed file load with no error and exactly the Talos rules active (unsupported: ${unsupported})`, async () => {
      const set = await loadRuleSet([SEED, MIXED], { unsupported, labels });
      expect(set.groups.flatMap((g) => g.rules.map((r) => r.name))).toEqual(['BTRFSCorruptionDetected', 'ISCSIKernelError', ...TALOS_RULES]);
      expect(set.skipped.map((s) => [s.rule, s.cause, s.label])).toEqual([
        ['LokiRequestErrors', 'not_applicable', 'namespace'],
        ['ApiPodPanics', 'not_applicable', 'kubernetes_pod_name'],
        ['IngressLogsMissing', 'not_applicable', 'namespace'],
        ['PaymentsJsonErrors', 'not_applicable', 'app'],
        ['app:error_lines:rate1m', 'not_applicable', 'app'],
        ['PromtailVarlogErrors', 'not_applicable', 'job'],
      ]);
      // Groups keep their place even when every rule in them is skipped.
      expect(set.groups.map((g) => [g.name, g.rules.length])).toEqual([['talos-kernel', 2], ['applications', 0], ['talos', 4]]);
    });
  }

  it('without a label universe nothing is judged (replay, library tests)', async () => {
    const set = await loadRuleSet([MIXED], { unsupported: 'skip' });
    expect(set.skipped.filter((s) => s.cause === 'not_applicable')).toEqual([]);
    expect(set.groups.flatMap((g) => g.rules.map((r) => r.name))).toEqual(expect.arrayContaining(['LokiRequestErrors', 'IngressLogsMissing', ...TALOS_RULES]));
  });

  it('a skipped rule keeps what the API shows: kind, expression, position, labels, annotations', () => {
    const r = parseRuleFile('x.yaml', 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: count_over_time({app="x"}[1m]) > 0\n        for: 2m\n        labels: { severity: page }\n        annotations: { summary: s }\n', { unsupported: 'skip', labels });
    expect(r.errors).toEqual([]);
    expect(r.skipped).toEqual([
      expect.objectContaining({ file: 'x.yaml', group: 'g', rule: 'A', kind: 'alert', cause: 'not_applicable', label: 'app', exprText: 'count_over_time({app="x"}[1m]) > 0', index: 0, line: 4, forMs: 120_000, labels: { severity: 'page' }, annotations: { summary: 's' } }),
    ]);
  });

  it('a not-applicable rule is never an error, even with LogQL this engine cannot run (unsupported: error)', () => {
    const text = 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(count_over_time({app="x"} | json | foo="y" [1m] offset 1m)) > 0\n        annotations: { s: \'{{ query "up" }}\' }\n';
    const r = parseRuleFile('x.yaml', text, { unsupported: 'error', labels });
    expect(r.errors.map((e) => e.message)).toEqual([]);
    expect(r.skipped.map((s) => [s.rule, s.cause, s.label])).toEqual([['A', 'not_applicable', 'app']]);
  });

  it('unsupported Talos rules are skipped with cause "unsupported" by default and fail with unsupported: error', async () => {
    const set = await loadRuleSet([UNSUPPORTED], { unsupported: defaultConfig().rules.unsupported, labels });
    expect(defaultConfig().rules.unsupported).toBe('skip');
    expect(set.skipped.map((s) => [s.rule, s.cause])).toEqual([
      ['ParserStage', 'unsupported'],
      ['QueryInTemplate', 'unsupported'],
    ]);
    await expect(loadRuleSet([UNSUPPORTED], { unsupported: 'error', labels })).rejects.toThrow(/QueryInTemplate/);
  });
});

describe('/api/v1/rules lists skipped rules in their groups', () => {
  it('health "unknown", skipped, skipReason, reason; loaded rules unchanged; valid Prometheus shape', async () => {
    const engine = new RuleEngine({ resolvedRetentionMs: 60_000, externalLabels: {}, externalUrl: '', tickMs: 1000 });
    engine.load(await loadRuleSet([MIXED, UNSUPPORTED], { unsupported: 'skip', labels }));
    // Only these are evaluated (an absent_over_time among the skipped ones can never fire).
    expect(engine.loadedRules().map((r) => r.def.name)).toEqual([...TALOS_RULES, 'Supported']);
    const app = Fastify();
    await app.register(rulesApiRoutes, { engine });
    const res = await app.inject({ method: 'GET', url: '/api/v1/rules' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { status: string; data: { groups: Array<{ name: string; file: string; rules: Array<Record<string, unknown>> }> } };
    expect(body.status).toBe('success');
    const byName = new Map(body.data.groups.flatMap((g) => g.rules.map((r) => [r.name as string, { ...r, group: g.name }])));
    expect(body.data.groups.map((g) => [g.name, g.rules.map((r) => r.name)])).toEqual([
      ['applications', APP_RULES],
      ['talos', TALOS_RULES],
      ['g', ['Supported', 'ParserStage', 'QueryInTemplate']],
    ]);
    for (const r of body.data.groups.flatMap((g) => g.rules)) {
      // Every rule has the fields Prometheus clients (Grafana) read.
      for (const k of ['name', 'query', 'health', 'type', 'labels', 'lastEvaluation', 'evaluationTime']) expect(r, `${String(r.name)}.${k}`).toHaveProperty(k);
      if (r.type === 'alerting') for (const k of ['state', 'alerts', 'annotations', 'duration']) expect(r, `${String(r.name)}.${k}`).toHaveProperty(k);
    }
    expect(byName.get('IngressLogsMissing')).toMatchObject({
      type: 'alerting',
      state: 'inactive',
      health: 'unknown',
      alerts: [],
      duration: 600,
      query: 'absent_over_time({namespace="ingress-nginx", app!=""}[15m])',
      skipped: true,
      skipReason: 'not_applicable',
      reason: expect.stringContaining('the label namespace is never set'),
    });
    expect(byName.get('app:error_lines:rate1m')).toMatchObject({ type: 'recording', health: 'unknown', skipped: true, skipReason: 'not_applicable' });
    expect(byName.get('ParserStage')).toMatchObject({ type: 'alerting', skipped: true, skipReason: 'unsupported', reason: expect.stringMatching(/^unsupported LogQL/) });
    expect(byName.get('BTRFSCorruptionDetected')).not.toHaveProperty('skipped');
    expect(byName.get('Supported')).not.toHaveProperty('skipped');
    // ?type=record filters skipped rules too.
    const rec = (await app.inject({ method: 'GET', url: '/api/v1/rules?type=record' })).json() as typeof body;
    expect(rec.data.groups.flatMap((g) => g.rules.map((r) => r.name))).toEqual(['app:error_lines:rate1m', 'talos:kernel_lines:rate1m']);
    await app.close();
  });
});

async function capture(run: (out: PassThrough, err: PassThrough) => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c: Buffer) => (chunks.out += c.toString()));
  err.on('data', (c: Buffer) => (chunks.err += c.toString()));
  const code = await run(out, err);
  return { code, ...chunks };
}

describe('check lists skipped rules as warnings', () => {
  it('not applicable rules: WARNING with the label, exit 0', async () => {
    const r = await capture((o, e) => runCheck([MIXED], o, e));
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(`Checking ${MIXED}`);
    expect(lines[1]).toBe('  SUCCESS: 4 rules found, skipped: 6 not applicable');
    expect(lines[2]).toBe(
      `  WARNING: ${MIXED}:7: group "applications": rule "LokiRequestErrors": not applicable here, skipped (label namespace): {namespace="monitoring", app="loki"} never matches here: the label namespace is never set (labels here: host, job, level, talos_service), so namespace="monitoring" cannot hold`,
    );
    expect(lines.filter((l) => l.startsWith('  WARNING:'))).toHaveLength(6);
  });

  it('--config decides the labels: a static label makes a rule applicable', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'check-cfg-'));
    writeFileSync(join(dir, 'c.yaml'), 'talos:\n  job: varlogs\n');
    const r = await capture((o, e) => runCheck([MIXED], o, e, { labels: labelsOfConfigFile(join(dir, 'c.yaml')) }));
    expect(r.code).toBe(0);
    expect(r.out).toContain('  SUCCESS: 1 rules found, skipped: 9 not applicable\n');
    expect(r.out).not.toContain('rule "PromtailVarlogErrors"');
    expect(r.out).toMatch(/rule "BTRFSCorruptionDetected": not applicable here, skipped \(label job\)/);
  });

  it('unsupported rules: WARNING by default, errors with strict or unsupported: error; not-applicable ones stay warnings under strict', async () => {
    const lenient = await capture((o, e) => runCheck([UNSUPPORTED], o, e));
    expect(lenient.code).toBe(0);
    expect(lenient.out).toContain('  SUCCESS: 1 rules found, skipped: 2 unsupported\n');
    expect(lenient.out).toMatch(/ {2}WARNING: \S+expr-unsupported\.yaml:6: group "g": rule "ParserStage": unsupported, skipped: unsupported LogQL: expr 1:\d+: /);
    for (const opts of [{ strict: true }, { unsupported: 'error' as const }]) {
      const strict = await capture((o, e) => runCheck([UNSUPPORTED], o, e, opts));
      expect(strict.code, JSON.stringify(opts)).toBe(1);
      expect(strict.err).toContain('rule "ParserStage": unsupported LogQL: expr 1:');
    }
    const mixed = await capture((o, e) => runCheck([MIXED], o, e, { strict: true }));
    expect(mixed.code).toBe(0);
    expect(mixed.out).toContain('skipped: 6 not applicable');
  });
});
