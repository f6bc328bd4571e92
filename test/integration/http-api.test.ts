/** The HTTP surface of a running sidecar: health, readiness, rules/alerts API, reload. */
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/app.js';
import { BTRFS_MSG, kernelRecord, sendLines, startTestSidecar, until } from '../helpers/sidecar.js';

let sidecar: Sidecar | undefined;
afterEach(async () => {
  await sidecar?.close();
  sidecar = undefined;
});

describe('HTTP API', () => {
  it('answers health, readiness, and the rules API in Prometheus format (the seed\'s ruler check works)', async () => {
    sidecar = await startTestSidecar();
    const get = (path: string, headers: Record<string, string> = {}) => sidecar!.http.inject({ method: 'GET', url: path, headers });
    expect((await get('/healthz')).statusCode).toBe(200);
    expect((await get('/readyz')).statusCode).toBe(200);
    const rules = (await get('/loki/api/v1/rules')).json();
    expect(rules.status).toBe('success');
    const names = rules.data.groups.flatMap((g: { rules: Array<{ name: string }> }) => g.rules.map((r) => r.name));
    expect(names).toEqual(['BTRFSCorruptionDetected', 'ISCSIKernelError']);
    const yaml = await get('/loki/api/v1/rules', { accept: 'application/yaml' });
    expect(yaml.headers['content-type']).toMatch(/yaml/);
    expect(yaml.body).toContain('alert: BTRFSCorruptionDetected');
    expect(yaml.body).toContain('parent transid verify failed');

    await sendLines(sidecar.ingest.tcpPort, [kernelRecord(BTRFS_MSG)]);
    const alerts = await until(async () => (await get('/api/v1/alerts')).json().data.alerts as Array<Record<string, unknown>>, (a) => a.length === 1);
    expect(alerts[0]).toMatchObject({ labels: { alertname: 'BTRFSCorruptionDetected', severity: 'critical' }, state: 'firing', value: '1e+00' });
    const rule = (await get('/api/v1/rules?type=alert')).json().data.groups[0].rules[0];
    expect(rule).toMatchObject({ name: 'BTRFSCorruptionDetected', state: 'firing', health: 'ok', type: 'alerting', duration: 0 });
  });

  it('keeps /-/reload off by default and behind a bearer token when enabled; a bad reload keeps the old rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-reload-'));
    const rulesFile = join(dir, 'rules.yaml');
    copyFileSync('rules/talos-kernel.yaml', rulesFile);
    writeFileSync(join(dir, 'token'), 's3cret\n');
    sidecar = await startTestSidecar((c) => {
      c.rules.paths = [rulesFile];
    });
    expect((await sidecar.http.inject({ method: 'POST', url: '/-/reload' })).statusCode).toBe(403);
    await sidecar.close();

    sidecar = await startTestSidecar((c) => {
      c.rules.paths = [rulesFile];
      c.http.adminEnabled = true;
      c.http.adminTokenFile = join(dir, 'token');
    });
    const post = (auth?: string) => sidecar!.http.inject({ method: 'POST', url: '/-/reload', headers: auth ? { authorization: auth } : {} });
    expect((await post()).statusCode).toBe(401);
    expect((await post('Bearer wrong')).statusCode).toBe(401);
    expect((await post('Bearer s3cret')).json()).toEqual({ status: 'success', rules: 2 });

    writeFileSync(rulesFile, 'groups:\n  - name: broken\n    rules:\n      - alert: X\n        expr: sum(count_over_time({job="talos-kernel"} |= [5m]))\n');
    const bad = await post('Bearer s3cret');
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error).toMatch(/rules\.yaml.*broken.*X/s);
    expect(sidecar.engine.loadedRules().map((r) => r.def.name)).toEqual(['BTRFSCorruptionDetected', 'ISCSIKernelError']);
    const metrics = (await sidecar.http.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/talos_alert_sidecar_rules_last_reload_successful 0/);

    writeFileSync(rulesFile, 'groups:\n  - name: one\n    rules:\n      - alert: Only\n        expr: sum(count_over_time({job="talos-kernel"} |= "x" [1m])) > 0\n');
    expect((await post('Bearer s3cret')).json()).toEqual({ status: 'success', rules: 1 });
    expect((await sidecar.http.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/talos_alert_sidecar_rules_last_reload_successful 1/);
  });

  it('reloads when a watched rule file changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-watch-'));
    copyFileSync('rules/talos-kernel.yaml', join(dir, 'a.yaml'));
    sidecar = await startTestSidecar((c) => {
      c.rules.paths = [dir];
      c.rules.watch = true;
    });
    expect(sidecar.engine.loadedRules()).toHaveLength(2);
    writeFileSync(join(dir, 'b.yaml'), 'groups:\n  - name: extra\n    rules:\n      - alert: Extra\n        expr: sum(count_over_time({job="talos-kernel"} |= "x" [1m])) > 0\n');
    await until(() => sidecar!.engine.loadedRules().length, (n) => n === 3, 10_000);
  });
});
