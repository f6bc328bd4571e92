/**
 * LogQL pipelines through the whole sidecar (socket → decode → engine → /api/v1/alerts),
 * with no Loki configured: structured metadata (kernel `facility`/`priority`, service
 * fields such as `took`) must reach the rules as it does in Loki 3.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/app.js';
import { kernelRecord, sendLines, startTestSidecar, until } from '../helpers/sidecar.js';

const RULES = `groups:
  - name: pipeline
    rules:
      - alert: KernErrByFacility
        expr: sum by (facility) (count_over_time({job="talos-kernel"} | priority="err" | facility=~"kern|daemon" [5m])) > 0
      - alert: SlowEtcdApply
        expr: max by (talos_service) (max_over_time({job="talos-kernel", talos_service="etcd"} | json | unwrap duration(took) [5m])) > 0.1
`;

function etcdRecord(took: string): string {
  const msg = JSON.stringify({ level: 'warn', msg: 'apply request took too long', took });
  return JSON.stringify({ msg, 'talos-level': 'warn', 'talos-service': 'etcd', 'talos-time': new Date().toISOString() });
}

interface AlertsAnswer { data: { alerts: Array<{ labels: Record<string, string>; value: string }> } }

describe('pipeline rules in the running sidecar', () => {
  let sidecar: Sidecar | undefined;
  afterEach(async () => {
    await sidecar?.close();
    sidecar = undefined;
  });

  it('filters and groups on structured metadata and unwraps a JSON field, without Loki', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-pipeline-'));
    writeFileSync(join(dir, 'pipeline.yaml'), RULES);
    sidecar = await startTestSidecar((cfg) => {
      cfg.rules.paths = [join(dir, 'pipeline.yaml')];
    });
    const alerts = async (): Promise<AlertsAnswer['data']['alerts']> =>
      ((await (await fetch(`http://127.0.0.1:${sidecar!.httpPort}/api/v1/alerts`)).json()) as AlertsAnswer).data.alerts;
    // A warning-priority kernel line must not count; an err one must, grouped by its facility.
    await sendLines(sidecar.ingest.tcpPort, [kernelRecord('usb 1-1: new device', Date.now(), 'warning'), kernelRecord('sd 2:0:0:0: I/O error')]);
    await sendLines(sidecar.ingest.tcpPort, [etcdRecord('50ms'), etcdRecord('1.5s')]);
    const got = await until(alerts, (a) => a.length === 2);
    const byName = new Map(got.map((a) => [a.labels.alertname, a]));
    expect(byName.get('KernErrByFacility')?.labels.facility).toBe('kern');
    expect(Number(byName.get('KernErrByFacility')?.value)).toBe(1);
    expect(byName.get('SlowEtcdApply')?.labels.talos_service).toBe('etcd');
    expect(Number(byName.get('SlowEtcdApply')?.value)).toBeCloseTo(1.5, 9);
  });
});
