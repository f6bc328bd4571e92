import net from 'node:net';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EventBus } from '../../src/bus.js';
import { PeerAllowlist } from '../../src/sources/allowlist.js';
import { TcpSource } from '../../src/sources/tcp.js';
import { UdpSource } from '../../src/sources/udp.js';
import { TalosDecoder } from '../../src/talos/decode.js';
import { IngestPipeline } from '../../src/talos/ingest.js';
import type { LogEvent } from '../../src/log-event.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { until } from '../helpers/sidecar.js';

// The spec's wire examples (shared/spec/talos-json-lines.md), byte for byte.
const KERNEL_BTRFS =
  '{"clock":912873321,"facility":"kern","msg":"BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230\\n","priority":"err","seq":10231,"talos-level":"error","talos-time":"2026-02-27T03:14:07.125Z"}';
const KERNEL_NET =
  '{"clock":5140900,"facility":"kern","msg":"NET: Registered protocol family 10\\n","priority":"info","seq":339,"talos-level":"info","talos-time":"2026-08-21T10:00:05.594170331Z"}';
const SERVICE_ETCD =
  '{"caller":"mvcc/kvstore_compaction.go:57","compact-revision":34567,"msg":"finished scheduled compaction","talos-level":"info","talos-service":"etcd","talos-time":"2021-10-19T14:53:05.815Z","took":"21.041639ms"}';
const SERVICE_KUBELET =
  '{"caller":"kubelet/kubelet.go:1703","msg":"Failed creating a mirror pod for: pods \\"kube-controller-manager-talos-dev-qemu-master-1\\" already exists","pod":"kube-system/kube-controller-manager-talos-dev-qemu-master-1","talos-level":"warn","talos-service":"kubelet","talos-time":"2021-10-26T16:45:51.595943212Z"}';

interface Harness {
  tcpPort: number;
  udpPort: number;
  events: LogEvent[];
  pipeline: IngestPipeline;
  tcp: TcpSource;
  close(): Promise<void>;
}

async function startHarness(maxLineBytes = 256 * 1024): Promise<Harness> {
  const bus = new EventBus();
  const events: LogEvent[] = [];
  bus.subscribe('test', (ev) => events.push(ev));
  const decoder = new TalosDecoder({ job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: true });
  const pipeline = new IngestPipeline(decoder, bus, pino({ level: 'silent' }), createRegistry({ processMetrics: false }));
  const allowlist = new PeerAllowlist([]);
  const tcp = new TcpSource({ host: '127.0.0.1', port: 0, maxLineBytes, maxConnections: 100, idleTimeoutMs: 0, allowlist }, pipeline);
  const tcpPort = await tcp.listen();
  const udp = new UdpSource({ host: '127.0.0.1', port: tcpPort, allowlist }, pipeline);
  const udpPort = await udp.listen();
  return { tcpPort, udpPort, events, pipeline, tcp, close: async () => void (await Promise.all([tcp.close(), udp.close()])) };
}

function sendTcp(port: number, payload: Buffer | string, opts: { endWithoutClose?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.end(payload);
    });
    s.on('error', reject);
    s.on('close', () => resolve());
    void opts;
  });
}


let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Talos records over real sockets', () => {
  it('turns kernel and service records sent over TCP into LogEvents with the seed labels', async () => {
    h = await startHarness();
    await sendTcp(h.tcpPort, [KERNEL_BTRFS, KERNEL_NET, SERVICE_ETCD, SERVICE_KUBELET].join('\n') + '\n');
    await until(() => h!.events.length === 4, Boolean);
    const [btrfs, netEv, etcd, kubelet] = h.events;
    expect(btrfs!.stream.labels).toEqual({ job: 'talos-kernel', host: '127.0.0.1', talos_service: 'kernel', level: 'error' });
    expect(btrfs!.line).toBe('BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230');
    expect(btrfs!.timeMs).toBe(Date.parse('2026-02-27T03:14:07.125Z'));
    expect(btrfs!.source).toBe('kernel');
    expect(btrfs!.metadata).toEqual({ clock: '912873321', facility: 'kern', priority: 'err', seq: '10231' });
    // Nanoseconds survive: .594170331 → 594 ms + 170331 ns.
    expect(netEv!.timeMs % 1000).toBe(594);
    expect(netEv!.timeNsRem).toBe(170331);
    expect(etcd!.stream.labels).toEqual({ job: 'talos-kernel', host: '127.0.0.1', talos_service: 'etcd', level: 'info' });
    expect(etcd!.metadata).toEqual({ caller: 'mvcc/kvstore_compaction.go:57', 'compact-revision': '34567', took: '21.041639ms' });
    expect(etcd!.source).toBe('service');
    expect(kubelet!.line).toContain('pods "kube-controller-manager-talos-dev-qemu-master-1" already exists');
    expect(kubelet!.stream.labels.level).toBe('warn');
    // Same label set → the same interned object (the rule engine caches per object).
    await sendTcp(h.tcpPort, KERNEL_BTRFS + '\n');
    await until(() => h!.events.length === 5, Boolean);
    expect(h.events[4]!.stream).toBe(btrfs!.stream);
  });

  it('takes one record per UDP datagram, without a trailing newline', async () => {
    h = await startHarness();
    const sock = dgram.createSocket('udp4');
    for (const rec of [KERNEL_BTRFS, SERVICE_ETCD]) {
      await new Promise<void>((resolve, reject) => sock.send(rec, h!.udpPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    }
    sock.close();
    await until(() => h!.events.length === 2, Boolean);
    expect(h.events.map((e) => e.stream.labels.talos_service).sort()).toEqual(['etcd', 'kernel']);
    expect(h.udpPort).toBe(h.tcpPort);
  });

  it('counts every line of 20 concurrent connections × 10 000 lines exactly once', async () => {
    h = await startHarness();
    const conns = 20;
    const perConn = 10_000;
    await Promise.all(
      Array.from({ length: conns }, (_, c) => {
        const lines: string[] = [];
        for (let i = 0; i < perConn; i++) {
          lines.push(`{"msg":"conn ${c} line ${i}","talos-level":"info","talos-service":"svc${c}","talos-time":"2026-01-01T00:00:00.${String(i).padStart(6, '0')}Z"}`);
        }
        return sendTcp(h!.tcpPort, lines.join('\n') + '\n');
      }),
    );
    await until(() => h!.events.length === conns * perConn, Boolean, 20_000);
    const seen = new Set(h.events.map((e) => e.line));
    expect(seen.size).toBe(conns * perConn);
    expect(h.pipeline.accepted).toBe(conns * perConn);
    const perService = new Map<string, number>();
    for (const e of h.events) perService.set(e.stream.labels.talos_service!, (perService.get(e.stream.labels.talos_service!) ?? 0) + 1);
    expect([...perService.values()].every((n) => n === perConn)).toBe(true);
  });

  it('counts each kind of bad input under its reason while the same connection keeps delivering good lines', async () => {
    h = await startHarness(1024);
    const good = (i: number) => `{"msg":"good ${i}","talos-level":"info","talos-service":"kubelet","talos-time":"2026-01-01T00:00:00Z"}\n`;
    const payload = Buffer.concat([
      Buffer.from(good(1)),
      Buffer.from('{"msg": not json\n'),
      Buffer.from(good(2)),
      Buffer.concat([Buffer.from('{"msg":"bad bytes '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('","talos-time":"2026-01-01T00:00:00Z"}\n')]),
      Buffer.from(good(3)),
      Buffer.from(`{"msg":"${'x'.repeat(5000)}"}\n`),
      Buffer.from(good(4)),
      Buffer.from('\n'),
      Buffer.from('[1,2,3]\n'),
      Buffer.from('{"talos-level":"info"}\n'),
      Buffer.from(good(5)),
      Buffer.from('{"msg":"cut mid-wri'),
    ]);
    await sendTcp(h.tcpPort, payload);
    await until(() => h!.events.length === 5 && h!.pipeline.rejected('fragment') === 1, Boolean);
    expect(h.events.map((e) => e.line)).toEqual(['good 1', 'good 2', 'good 3', 'good 4', 'good 5']);
    expect(h.pipeline.rejected('invalid_json')).toBe(1);
    expect(h.pipeline.rejected('invalid_utf8')).toBe(1);
    expect(h.pipeline.rejected('too_long')).toBe(1);
    expect(h.pipeline.rejected('empty')).toBe(1);
    expect(h.pipeline.rejected('not_object')).toBe(1);
    expect(h.pipeline.rejected('missing_msg')).toBe(1);
    expect(h.pipeline.rejected('fragment')).toBe(1);
  });

  it('bounds memory for a peer that never sends a newline and keeps serving others', async () => {
    h = await startHarness(64 * 1024);
    const hog = net.connect(h.tcpPort, '127.0.0.1');
    await new Promise((r) => hog.once('connect', r));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 160; i++) hog.write(chunk); // 10 MiB, no newline
    await sendTcp(h.tcpPort, '{"msg":"honest","talos-time":"2026-01-01T00:00:00Z"}\n');
    await until(() => h!.events.some((e) => e.line === 'honest'), Boolean);
    await until(() => h!.pipeline.rejected('too_long') >= 1, Boolean);
    hog.destroy();
  });
});
