/**
 * `rules.external_labels` as Prometheus's `global.external_labels`: added to
 * every alert sent to Alertmanager (unless the alert has the label), available
 * as `$externalLabels` in templates, and nowhere else: not on the streams sent
 * to Loki, not on the streams rules select, not in the sidecar's own alert API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/app.js';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alertmanager.js';
import { parseLabels, startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';
import { BTRFS_MSG, kernelRecord, sendLines, startTestSidecar } from '../helpers/sidecar.js';

const RULES = `groups:
  - name: g
    rules:
      - alert: PerHost
        expr: 'count_over_time({job="talos-kernel"} |= "parent transid verify failed" [1m]) > 0'
        labels:
          severity: critical
          cluster: from-rule
        annotations:
          summary: 'BTRFS on {{ $labels.host }} in {{ $externalLabels.cluster }}/{{ $externalLabels.region }}'
      - alert: SelectsExternalLabel
        expr: 'count_over_time({job="talos-kernel", region="eu"} [1m]) > 0'
`;

const dir = mkdtempSync(join(tmpdir(), 'tas-extlabels-'));
let sidecar: Sidecar;
let am: AlertReceiver;
let loki: LokiReceiver;

beforeAll(async () => {
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  am = await startAlertReceiver();
  loki = await startLokiReceiver();
  sidecar = await startTestSidecar((c) => {
    c.rules.paths = [join(dir, 'rules.yaml')];
    c.rules.externalLabels = { cluster: 'homelab', region: 'eu' };
    c.alertmanager.urls = [am.url];
    c.loki.url = loki.url;
    c.loki.batchWaitMs = 50;
  });
});

afterAll(async () => {
  await sidecar?.close();
  await am?.close();
  await loki?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rules.external_labels', () => {
  it('are on every alert sent (the alert\'s own label wins) and in $externalLabels, and nowhere else', async () => {
    await sendLines(sidecar.ingest.tcpPort, [kernelRecord(BTRFS_MSG)]);
    const posts = await am.waitFor((p) => p.some((x) => x.alerts.some((a) => a.labels.alertname === 'PerHost')));
    const sent = posts.flatMap((p) => p.alerts).find((a) => a.labels.alertname === 'PerHost')!;
    expect(sent.labels).toEqual({ alertname: 'PerHost', severity: 'critical', cluster: 'from-rule', region: 'eu', host: '127.0.0.1', job: 'talos-kernel', level: 'error', talos_service: 'kernel' });
    expect(sent.annotations?.summary).toBe('BTRFS on 127.0.0.1 in homelab/eu');

    // The sidecar's own alert API shows the rule's alert, as Prometheus's does: without external labels.
    const api = (await (await fetch(`http://127.0.0.1:${sidecar.httpPort}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string> }> } };
    expect(api.data.alerts.map((a) => a.labels.region)).toEqual([undefined]);

    // Loki gets the stream labels only.
    await loki.waitForLines(1, 10_000);
    expect(parseLabels(loki.entries[0]!.labels)).toEqual({ host: '127.0.0.1', job: 'talos-kernel', level: 'error', talos_service: 'kernel' });

    // A rule selecting an external label selects no stream: it is not applicable, never fires.
    const rules = (await (await fetch(`http://127.0.0.1:${sidecar.httpPort}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; skipped?: boolean; skipReason?: string }> }> } };
    expect(rules.data.groups[0]!.rules.find((r) => r.name === 'SelectsExternalLabel')).toMatchObject({ skipped: true, skipReason: 'not_applicable' });
    const metrics = await (await fetch(`http://127.0.0.1:${sidecar.httpPort}/metrics`)).text();
    expect(metrics).toContain('talos_alert_sidecar_rules_skipped{reason="not_applicable"} 1');
    expect(metrics).toContain('talos_alert_sidecar_rules_skipped{reason="unsupported"} 0');
    expect(am.posts.flatMap((p) => p.alerts).filter((a) => a.labels.alertname === 'SelectsExternalLabel')).toEqual([]);
  });
});
