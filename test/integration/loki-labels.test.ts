/**
 * End to end through the sidecar: what Loki receives for the spec's kernel and
 * service records, and that the seed's logcli query shapes select them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/app.js';
import { startLokiReceiver, parseLabels, type LokiReceiver } from '../helpers/loki-receiver.js';
import { sendLines, startTestSidecar } from '../helpers/sidecar.js';

const KERNEL =
  '{"clock":912873321,"facility":"kern","msg":"BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230\\n","priority":"err","seq":10231,"talos-level":"error","talos-time":"2026-11-22T03:14:07.125000001Z"}';
const KUBELET =
  '{"caller":"kubelet/kubelet.go:1703","msg":"Failed creating a mirror pod","pod":"kube-system/kube-controller-manager-talos-dev-qemu-master-1","talos-level":"warn","talos-service":"kubelet","talos-time":"2026-11-22T03:14:08.595943212Z"}';

/** A logcli stream selector of only `=` matchers, as the seed's examples use. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

let sidecar: Sidecar;
let loki: LokiReceiver;
beforeAll(async () => {
  loki = await startLokiReceiver();
  sidecar = await startTestSidecar((c) => {
    c.loki.url = loki.url;
    c.loki.batchWaitMs = 50;
    c.talos.futureToleranceMs = 365 * 24 * 3600_000;
  });
});
afterAll(async () => {
  await sidecar?.close();
  await loki?.close();
});

describe('lines forwarded to Loki', () => {
  it('carry the seed labels, ns timestamps and metadata, and match the seed\'s logcli selectors', async () => {
    await sendLines(sidecar.ingest.tcpPort, [KERNEL, KUBELET]);
    await loki.waitForLines(2, 10_000);
    const [kernel, kubelet] = loki.entries.map((e) => ({ ...e, l: parseLabels(e.labels) }));
    expect(kernel!.l).toEqual({ host: '127.0.0.1', job: 'talos-kernel', level: 'error', talos_service: 'kernel' });
    expect(kernel!.labels).toBe('{host="127.0.0.1", job="talos-kernel", level="error", talos_service="kernel"}');
    expect(kernel!.tsNs).toBe(`${Date.parse('2026-11-22T03:14:07.125Z')}000001`);
    expect(kernel!.line).toBe('BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230');
    expect(kernel!.metadata).toEqual({ clock: '912873321', facility: 'kern', priority: 'err', seq: '10231' });
    expect(kubelet!.l).toEqual({ host: '127.0.0.1', job: 'talos-kernel', level: 'warn', talos_service: 'kubelet' });
    expect(kubelet!.tsNs).toBe(`${Date.parse('2026-11-22T03:14:08.595Z')}943212`);
    // logcli query '{job="talos-kernel"}' and '{job="talos-kernel", talos_service="kubelet"}'
    expect([kernel, kubelet].filter((e) => selects({ job: 'talos-kernel' }, e!.l))).toHaveLength(2);
    expect([kernel, kubelet].filter((e) => selects({ job: 'talos-kernel', talos_service: 'kubelet' }, e!.l))).toEqual([kubelet]);
  });
});
