/**
 * Issue #18 end to end: Talos lines over TCP → the running sidecar → a real
 * Alertmanager. Two nodes fire two alerts with different lines; the alert
 * Alertmanager holds for each node carries that node's lines (and never the
 * other's), at most `max_lines`, cut to `max_line_bytes`; its generatorURL
 * opens Grafana Explore on the rule's log query over the alert's window.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startSidecar, type Sidecar } from '../../src/app.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { startAlertmanager, type AlertmanagerInstance, type GettableAlert } from '../helpers/alertmanager.js';
import { sendLines, testConfig, until } from '../helpers/sidecar.js';

const RULES = `groups:
  - name: talos-kernel
    rules:
      - alert: NodeDiskErrors
        expr: 'sum by (node) (count_over_time({job="talos-kernel"} |= "I/O error" [30s])) > 0'
        labels:
          severity: critical
        annotations:
          summary: 'I/O errors on {{ $labels.node }}'
`;

function rec(node: string, msg: string): string {
  return JSON.stringify({ clock: 1, facility: 'kern', msg: `${msg}\n`, node, priority: 'err', seq: 1, 'talos-level': 'error', 'talos-time': new Date().toISOString() });
}

const LONG = `blk_update_request: I/O error, dev sda, sector ${'9'.repeat(120)}`;

describe('evidence lines reach a real Alertmanager', () => {
  let dir: string;
  let am: AlertmanagerInstance;
  let sidecar: Sidecar;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'talos-evidence-'));
    mkdirSync(join(dir, 'fake'));
    writeFileSync(join(dir, 'fake', 'disk.yaml'), RULES);
    am = await startAlertmanager();
    sidecar = await startSidecar(
      testConfig((cfg) => {
        cfg.talos.labelFields = ['node'];
        cfg.rules.paths = [dir];
        cfg.rules.tickMs = 200;
        cfg.rules.resendDelayMs = 300; // later lines reach Alertmanager on the next resend
        cfg.rules.externalUrl = 'https://grafana.example.com/';
        cfg.rules.evidence = { maxLines: 2, maxLineBytes: 64, annotation: 'log_lines', link: 'explore', lokiUrl: '', datasourceUid: 'loki-uid' };
        cfg.alertmanager.urls = [am.url];
      }),
      { logger: pino({ level: 'silent' }), registry: createRegistry({ processMetrics: false }) },
    );
  });

  afterAll(async () => {
    await sidecar?.close();
    await am?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('each node\'s alert carries its own lines, bounded and truncated, and links to them in Explore', async () => {
    await sendLines(sidecar.ingest.tcpPort, [
      rec('a', 'end_request: I/O error, dev sda, sector 1'),
      rec('b', 'nvme0n1: I/O error on b only'),
      rec('a', 'end_request: I/O error, dev sda, sector 2'),
      rec('a', 'ata1.00: healthy line that does not match'),
      rec('a', LONG),
    ]);
    const byNode = (alerts: GettableAlert[], node: string) => alerts.find((x) => x.labels.node === node && x.labels.alertname === 'NodeDiskErrors');
    const alerts = await until(
      () => am.alerts(),
      (got) => byNode(got, 'a')?.annotations.log_lines?.includes('…[+') === true && byNode(got, 'b') !== undefined,
      15_000,
    );
    const a = byNode(alerts, 'a')!;
    const b = byNode(alerts, 'b')!;

    const aLines = a.annotations.log_lines!.split('\n');
    expect(aLines).toHaveLength(2); // max_lines
    expect(aLines[0]).toMatch(/^\S+Z \{.*node="a".*\} end_request: I\/O error, dev sda, sector 2$/);
    const cut = aLines[1]!.slice(aLines[1]!.indexOf('} ') + 2);
    expect(Buffer.byteLength(cut.slice(0, cut.indexOf(' …[+')))).toBe(64);
    expect(cut).toBe(`${LONG.slice(0, 64)} …[+${Buffer.byteLength(LONG) - 64} bytes]`);
    expect(a.annotations.log_lines).not.toContain('nvme0n1');
    expect(a.annotations.log_lines).not.toContain('healthy');
    expect(b.annotations.log_lines).toMatch(/node="b".*nvme0n1: I\/O error on b only$/);
    expect(b.annotations.log_lines).not.toContain('dev sda');
    expect(a.annotations.summary).toBe('I/O errors on a');

    // The link: Explore on the rule's log query, from activeAt − 30 s to the send time.
    const api = (await (await fetch(`http://127.0.0.1:${sidecar.httpPort}/api/v1/alerts`)).json()) as {
      data: { alerts: Array<{ labels: Record<string, string>; activeAt: string; evidence: Array<{ line: string }> }> };
    };
    const apiA = api.data.alerts.find((x) => x.labels.node === 'a')!;
    expect(apiA.evidence.map((l) => l.line)).toEqual(aLines.map((l) => l.slice(l.indexOf('} ') + 2)));
    const url = new URL(a.generatorURL!);
    expect(`${url.origin}${url.pathname}`).toBe('https://grafana.example.com/explore');
    expect(url.searchParams.get('schemaVersion')).toBe('1');
    const panes = JSON.parse(url.searchParams.get('panes')!) as Record<string, { datasource: string; queries: Array<{ expr: string; refId: string; datasource: { uid: string } }>; range: { from: string; to: string } }>;
    const pane = Object.values(panes)[0]!;
    expect(pane.queries).toEqual([{ refId: 'A', expr: '{job="talos-kernel"} |= "I/O error"', queryType: 'range', datasource: { type: 'loki', uid: 'loki-uid' } }]);
    expect(pane.datasource).toBe('loki-uid');
    const activeAt = Date.parse(apiA.activeAt);
    expect(Number(pane.range.from)).toBe(activeAt - 30_000);
    expect(Number(pane.range.to)).toBeGreaterThanOrEqual(activeAt);
    expect(Number(pane.range.to)).toBeLessThanOrEqual(Date.now());
  });
});
