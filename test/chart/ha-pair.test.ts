/**
 * Cluster mode end to end: two sidecars run the config the chart renders for
 * the HA pair (same ConfigMap for both replicas), every Talos node sends the
 * same lines to both, both alert a real Alertmanager (Debian's), and
 * Alertmanager holds ONE alert: the pair's label sets are identical, so it
 * deduplicates them like a Prometheus HA pair. The chart's rules, mounted the
 * way the chart mounts them.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { IConfigMap } from 'kubernetes-models/v1';
import { startSidecar, type Sidecar } from '../../src/app.js';
import { CHART_DIR, helmTemplate } from '../helpers/helm.js';
import { startAlertmanager } from '../helpers/alertmanager.js';
import { kernelRecord, sendLines, until } from '../helpers/sidecar.js';
import { loadRenderedConfig } from './sidecar-config.js';

const work = mkdtempSync(join(tmpdir(), 'tas-ha-pair-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('cluster mode: the HA pair', () => {
  it('both replicas alert, Alertmanager keeps one alert', async () => {
    const objs = helmTemplate({ set: ['mode=cluster'] });
    const cms = objs.filter((o) => o.kind === 'ConfigMap' && (o as unknown as IConfigMap).data?.['config.yaml'] !== undefined);
    expect(cms, 'one config for every replica').toHaveLength(1);
    const text = (cms[0] as unknown as IConfigMap).data!['config.yaml']!;

    mkdirSync(join(work, 'rules/fake'), { recursive: true });
    writeFileSync(join(work, 'rules/fake/talos-kernel.yaml'), readFileSync(join(CHART_DIR, 'rules/talos-kernel.yaml')));
    const am = await startAlertmanager();
    const pair: Sidecar[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        // The rendered config; only what a test process must change: ephemeral ports, the
        // rules directory, this Alertmanager, and no disk (the pod's volume paths).
        const { cfg } = loadRenderedConfig(text);
        cfg.ingest.listen = '127.0.0.1:0';
        cfg.http.listen = '127.0.0.1:0';
        cfg.rules.paths = [join(work, 'rules')];
        cfg.rules.watch = false;
        cfg.alertmanager.urls = [am.url];
        cfg.loki.url = '';
        cfg.loki.spoolDir = '';
        cfg.state.file = '';
        pair.push(await startSidecar(cfg, { logger: pino({ level: 'silent' }) }));
      }
      // One Talos node, two destinations: the same record (with its extraTags) to each replica.
      const record = JSON.parse(kernelRecord('BTRFS error (device sdb state EA): parent transid verify failed on logical 1 mirror 1 wanted 2 found 1')) as Record<string, unknown>;
      record['node-name'] = 'talos-w-1';
      for (const s of pair) await sendLines(s.ingest.tcpPort, [JSON.stringify(record)]);

      // Both replicas delivered their copy …
      const sent = async (s: Sidecar): Promise<number> => {
        const m = /^talos_alert_sidecar_alertmanager_alerts_sent_total\{[^}]*\} (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text());
        return m ? Number(m[1]) : 0;
      };
      await until(async () => Promise.all(pair.map(sent)), (n) => n.every((x) => x >= 1), 15_000);
      // … with identical labels, so Alertmanager holds one alert.
      const alerts = await until(() => am.alerts(), (a) => a.length > 0, 10_000);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.labels.alertname).toBe('BTRFSCorruptionDetected');
      expect(Object.keys(alerts[0]!.labels)).not.toContain('node');
      const [a, b] = pair.map((s) => s.engine.alerts().map(({ alert }) => alert.labels));
      expect(a).toEqual(b);
    } finally {
      await Promise.all(pair.map((s) => s.close()));
      await am.stop();
    }
  }, 60_000);
});
