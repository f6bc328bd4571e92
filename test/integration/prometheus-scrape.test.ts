/**
 * The real Prometheus (Debian package) scrapes the running sidecar: the BTRFS
 * rule's match counter reads 1 after one matching line over TCP, and the
 * exposition passes `promtool check metrics`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/app.js';
import { startPrometheus, promtoolCheckMetrics, type PrometheusInstance } from '../helpers/prometheus.js';
import { BTRFS_MSG, kernelRecord, sendLines, startTestSidecar, until } from '../helpers/sidecar.js';

let sidecar: Sidecar;
let prom: PrometheusInstance;

beforeAll(async () => {
  sidecar = await startTestSidecar();
  prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${sidecar.httpPort}`], scrapeInterval: '1s' });
});
afterAll(async () => {
  await prom?.stop();
  await sidecar?.close();
});

describe('Prometheus scraping the sidecar', () => {
  it('sees every rule\'s match counter at 0 after load, and the BTRFS one at 1 after one line', async () => {
    const zero = await prom.waitFor('talos_alert_sidecar_rule_matches_total', (r) => r.length === 2, 20_000);
    expect(zero.map((s) => [s.metric.rule, s.value[1]]).sort()).toEqual([
      ['BTRFSCorruptionDetected', '0'],
      ['ISCSIKernelError', '0'],
    ]);
    await sendLines(sidecar.ingest.tcpPort, [kernelRecord(BTRFS_MSG), kernelRecord('NET: Registered protocol family 10', Date.now(), 'info')]);
    const one = await prom.waitFor(
      'talos_alert_sidecar_rule_matches_total{rule="BTRFSCorruptionDetected"}',
      (r) => r.length === 1 && r[0]!.value[1] === '1',
      20_000,
    );
    expect(one[0]!.metric.rule_group).toBe('talos-kernel');
    const lines = await prom.waitFor('sum(talos_alert_sidecar_lines_received_total)', (r) => r[0]?.value[1] === '2', 20_000);
    expect(lines[0]!.value[1]).toBe('2');
    const firing = await prom.waitFor('talos_alert_sidecar_alerts{state="firing"}', (r) => r.length === 1, 20_000);
    expect(firing[0]!.metric.alertname).toBe('BTRFSCorruptionDetected');
  });

  it('exposes metrics that pass promtool check metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${sidecar.httpPort}/metrics`);
    const text = await res.text();
    const check = await promtoolCheckMetrics(text);
    expect(check.output).toBe('');
    expect(check.ok).toBe(true);
    for (const name of ['lines_received_total', 'bytes_received_total', 'decode_errors_total', 'connections', 'rule_matches_total', 'alerts', 'rules_last_reload_successful']) {
      expect(text).toContain(`talos_alert_sidecar_${name}`);
    }
  });
});
