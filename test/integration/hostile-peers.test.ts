/**
 * Hostile peers against one running sidecar, all at once: 1 000 idle
 * connections filling `max_connections`, slowloris, rapid one-byte trickles,
 * megabyte lines, garbage, connections from outside `allow_cidrs`, and a UDP
 * flood — while two honest Talos nodes connect *after* the limit is full and
 * send. The honest lines must all be counted, exactly, and the BTRFS line
 * among them must reach the real Alertmanager; every hostile input must be
 * counted under its `decode_errors_total` reason; memory must stay bounded.
 *
 * The attackers run in a forked child (dist-tools/bench/soak/hostile-peers.js, so run
 * `npm run build` first), which keeps the sidecar's memory figure its own and
 * puts the attack on the other core. The honest peers run here, sending from
 * their own loopback addresses (127.10.0.x) so their `host` label is theirs.
 */
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/app.js';
import { records } from '../../src/traffic/index.js';
import { ForkedChild } from '../../bench/lib/forked-child.js';
import type { HostileCmd, HostileConfig, HostileEv, HostileReport } from '../../bench/soak/hostile-peers.js';
import { startAlertmanager, type AlertmanagerInstance } from '../helpers/alertmanager.js';
import { startTestSidecar, until } from '../helpers/sidecar.js';

const HOSTILE_JS = 'dist-tools/bench/soak/hostile-peers.js';
const MAX_CONNECTIONS = 1000;
const MiB = 1024 * 1024;

/**
 * RSS bound over the pre-attack baseline. What the sidecar may legitimately
 * hold: ~1 000 sockets (JS objects + libuv handles, ≈ 10 MB), at most one
 * line buffer of max_line_bytes (256 KiB) per partial-line connection (20 →
 * 5 MB), 64 KiB read buffers in flight, the honest lines in the rule windows,
 * and V8 young-generation growth under a ~10 MB/s mix of reads (≈ 16–32 MB):
 * about 50 MB, which is what runs measure. 100 MB leaves room for allocator
 * slack and still fails on a per-connection or per-line leak at this scale
 * (e.g. 1 000 connections each keeping a 64 KiB read buffer would be +64 MB).
 */
const RSS_BOUND = 100 * MiB;
/**
 * JS heap (+ array buffers) bound, sampled without forcing GC, so it includes
 * young-generation garbage not yet collected (up to ~32 MB): runs measure
 * 37–47 MB.
 */
const HEAP_BOUND = 80 * MiB;

const ATTACK: Omit<HostileConfig, 'port'> = {
  idle: MAX_CONNECTIONS,
  outsiders: 20,
  outsiderAddress: '127.66.0.1',
  slowloris: 4,
  slowlorisIntervalMs: 100,
  trickle: 16,
  trickleBytes: 50_000,
  oversized: 4,
  oversizedLines: 2,
  oversizedBytes: 4 * MiB,
  garbage: 4,
  garbageLines: 500,
  heavyLines: 3,
  udpDatagrams: 30_000,
  durationMs: 6000,
};

/** An honest Talos node: one connection from its own address, lines in paced batches, then a clean close. */
async function honestNode(port: number, localAddress: string, lines: readonly string[], batches: number, intervalMs: number): Promise<void> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  s.setNoDelay(true);
  let failure: Error | undefined;
  s.on('error', (e) => (failure = e));
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  const per = Math.ceil(lines.length / batches);
  for (let b = 0; b < batches; b++) {
    const chunk = lines.slice(b * per, (b + 1) * per);
    if (chunk.length > 0 && !s.write(`${chunk.join('\n')}\n`)) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 5000);
        const done = (): void => {
          clearTimeout(t);
          r();
        };
        s.once('drain', done);
        s.once('close', done);
      });
    }
    if (s.destroyed) throw new Error(`honest node ${localAddress}: connection closed by the sidecar after ${b} batches (${failure?.message ?? 'no error'})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => resolve(), 5000);
    s.end(() => {
      clearTimeout(t);
      resolve();
    });
  });
  s.destroy();
  if (failure !== undefined) throw failure;
}

async function metricValues(sidecar: Sidecar, name: string): Promise<Map<string, number>> {
  const all = await sidecar.registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  const out = new Map<string, number>();
  for (const v of (m?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number }>) {
    const key = Object.values(v.labels).join('/');
    out.set(key, (out.get(key) ?? 0) + v.value);
  }
  return out;
}

/** What the sampler saw during the attack. */
interface Peaks {
  rss: number;
  heap: number;
  maxConnections: number;
  /** Event-loop delay (the honest peers and the sampler share this loop with the sidecar). */
  lagS: number;
}

describe('hostile peers', () => {
  let am: AlertmanagerInstance;
  beforeAll(async () => {
    if (!existsSync(HOSTILE_JS)) throw new Error(`${HOSTILE_JS} is missing: run \`npm run build\` first`);
    if (statSync(HOSTILE_JS).mtimeMs < statSync('bench/soak/hostile-peers.ts').mtimeMs) throw new Error(`${HOSTILE_JS} is older than its source: run \`npm run build\``);
    am = await startAlertmanager();
  });
  afterAll(async () => {
    await am?.stop();
  });

  it('keeps counting honest nodes exactly and alerting while idle, slowloris, oversized, garbage, outsider and UDP-flood peers attack', async () => {
    const sidecar = await startTestSidecar((cfg) => {
      cfg.alertmanager.urls = [am.url];
      cfg.ingest.maxConnections = MAX_CONNECTIONS;
      cfg.ingest.allowCidrs = ['127.0.0.1/32', '127.10.0.0/16'];
      // Counted per peer address: the generated machined records carry a node-name field (extraTags).
      cfg.talos.hostField = '';
    });
    const child = new ForkedChild<HostileCmd, HostileEv>(HOSTILE_JS);
    let sampler: NodeJS.Timeout | undefined;
    try {
      const port = sidecar.ingest.tcpPort;
      child.send({ cmd: 'start', config: { ...ATTACK, port } });
      const idle = await child.next('idle', 20_000);
      expect(idle.opened).toBe(ATTACK.idle);
      // The limit is full before anyone else arrives.
      await until(async () => (await metricValues(sidecar, 'talos_alert_sidecar_connections')).get('tcp') ?? 0, (n) => n === MAX_CONNECTIONS, 10_000);

      const base = { rss: process.memoryUsage.rss(), heap: heapNow() };
      const peak: Peaks = { rss: base.rss, heap: base.heap, maxConnections: 0, lagS: 0 };
      sampler = setInterval(() => {
        peak.rss = Math.max(peak.rss, process.memoryUsage.rss());
        peak.heap = Math.max(peak.heap, heapNow());
        // One scrape per tick: it also resets the lag histogram, so the lag peak is taken here.
        void sidecar.registry.getMetricsAsJSON().then((all) => {
          for (const metric of all) {
            const v = (metric.values as Array<{ labels: Record<string, string | number>; value: number }>) ?? [];
            if (metric.name === 'talos_alert_sidecar_connections') peak.maxConnections = Math.max(peak.maxConnections, v.find((x) => x.labels.proto === 'tcp')?.value ?? 0);
            if (metric.name === 'nodejs_eventloop_lag_max_seconds') peak.lagS = Math.max(peak.lagS, v[0]?.value ?? 0);
          }
        });
      }, 50);

      // Honest traffic: node 1's kernel and service streams (the BTRFS failure among them), paced over ~4 s.
      const now = Date.now();
      const node1 = [...records({ nodes: 1, ratePerSec: 3000, durationMs: 4000, startTimeMs: now, seed: 3, failures: [{ atMs: 500, kind: 'btrfs-transid' }] })];
      const kernel1 = node1.filter((r) => r.stream === 'kernel').map((r) => r.json);
      const service1 = node1.filter((r) => r.stream === 'service').map((r) => r.json);
      const node2 = [...records({ nodes: 1, ratePerSec: 1000, maxLines: 1000, startTimeMs: now, seed: 4, kernelShare: 0 })].map((r) => r.json);
      expect(kernel1.some((l) => l.includes('parent transid verify failed'))).toBe(true);

      child.send({ cmd: 'go' });
      const honest = Promise.all([
        honestNode(port, '127.10.0.1', kernel1, 20, 200),
        honestNode(port, '127.10.0.1', service1, 20, 200),
        // Node 2 arrives in the middle of the attack.
        new Promise((r) => setTimeout(r, 1500)).then(() => honestNode(port, '127.10.0.2', node2, 1, 0)),
      ]);
      const [, done] = await Promise.all([honest, child.next('done', 40_000)]);
      const report: HostileReport = done.report;

      // Every honest line counted, exactly, per node and stream.
      const byHost = (): Map<string, number> => sidecar.pipeline.linesByHost();
      await until(byHost, (m) => m.get('127.10.0.1/kernel') === kernel1.length && m.get('127.10.0.1/service') === service1.length && m.get('127.10.0.2/service') === node2.length, 10_000);

      // The BTRFS line reached the real Alertmanager.
      const alerts = await until(() => am.alerts(), (a) => a.some((x) => x.labels.alertname === 'BTRFSCorruptionDetected'), 10_000);
      expect(alerts.find((x) => x.labels.alertname === 'BTRFSCorruptionDetected')!.status.state).toBe('active');

      // Every hostile TCP input counted under its reason, exactly (the child closed its partial lines: fragments).
      const want = report.expect;
      const errors = await until(
        () => metricValues(sidecar, 'talos_alert_sidecar_decode_errors_total'),
        (m) => (m.get('fragment') ?? 0) >= want.fragment && (m.get('too_long') ?? 0) >= want.too_long,
        10_000,
      );
      expect(want.fragment).toBe(ATTACK.slowloris + ATTACK.trickle);
      expect(want.too_long).toBe(ATTACK.oversized * ATTACK.oversizedLines);
      expect(want.not_allowed).toBe(ATTACK.outsiders);
      for (const reason of ['invalid_utf8', 'invalid_json', 'empty', 'too_long', 'fragment', 'not_allowed'] as const) {
        expect({ reason, n: errors.get(reason) ?? 0 }).toEqual({ reason, n: want[reason] });
      }
      // UDP loses datagrams under a flood (by design); what arrives is counted, never more than was sent.
      const udpArrays = errors.get('not_object') ?? 0;
      const udpNoMsg = errors.get('missing_msg') ?? 0;
      expect(udpArrays).toBeGreaterThan(0);
      expect(udpArrays).toBeLessThanOrEqual(report.udp.notObject);
      expect(udpNoMsg).toBeGreaterThan(0);
      expect(udpNoMsg).toBeLessThanOrEqual(report.udp.missingMsg);
      const m = byHost();
      expect(m.get('127.0.0.1/kernel')).toBe(want.heavyAccepted);
      const udpAccepted = m.get('127.0.0.1/service') ?? 0;
      expect(udpAccepted).toBeGreaterThan(0);
      expect(udpAccepted).toBeLessThanOrEqual(report.udp.valid);
      expect(sidecar.pipeline.accepted).toBe(kernel1.length + service1.length + node2.length + want.heavyAccepted + udpAccepted);

      // Room was made by closing silent idle connections, never a partial-line or honest one; outsiders refused.
      // At least: the partial-line connections and node 1's two were open together under the limit.
      // At most: one per connection that arrived after the limit was full.
      const newcomers = ATTACK.slowloris + ATTACK.trickle + ATTACK.oversized + ATTACK.garbage;
      expect(report.idleClosedByPeer).toBeGreaterThanOrEqual(ATTACK.slowloris + ATTACK.trickle + 2);
      expect(report.idleClosedByPeer).toBeLessThanOrEqual(newcomers + 3);
      expect(report.partialClosedByPeer).toBe(0);
      expect(report.outsidersRefused).toBe(ATTACK.outsiders);
      clearInterval(sampler);
      expect(peak.maxConnections).toBeLessThanOrEqual(MAX_CONNECTIONS);

      const rssGrowth = peak.rss - base.rss;
      const heapGrowth = peak.heap - base.heap;
      console.log(
        `hostile peers: ${report.elapsedMs} ms attack; oversized ${(report.oversizedBytes / MiB).toFixed(0)} MiB, trickled ${report.trickleBytes} B, ` +
          `UDP ${report.udp.sent} datagrams (${(report.udp.bytes / MiB).toFixed(1)} MiB, ${udpArrays + udpNoMsg + udpAccepted} arrived); ` +
          `idle evicted ${report.idleClosedByPeer}; RSS +${(rssGrowth / MiB).toFixed(1)} MiB, heap +${(heapGrowth / MiB).toFixed(1)} MiB; ` +
          `event-loop lag max ${(peak.lagS * 1000).toFixed(0)} ms`,
      );
      expect(rssGrowth).toBeLessThan(RSS_BOUND);
      expect(heapGrowth).toBeLessThan(HEAP_BOUND);
    } finally {
      if (sampler !== undefined) clearInterval(sampler);
      child.send({ cmd: 'exit' });
      await child.stop();
      await sidecar.close();
    }
  }, 60_000);

  it('at max_connections closes the oldest connection that never delivered a line, and refuses newcomers once every connection has', async () => {
    const sidecar = await startTestSidecar((cfg) => {
      cfg.ingest.maxConnections = 3;
    });
    const port = sidecar.ingest.tcpPort;
    const open: net.Socket[] = [];
    const connect = async (): Promise<{ s: net.Socket; closed: Promise<void> }> => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      await new Promise<void>((r, j) => {
        s.once('connect', () => r());
        s.once('error', j);
      });
      open.push(s);
      return { s, closed };
    };
    const isClosed = (p: Promise<void>, ms = 2000): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
    const conns = async (): Promise<number> => (await metricValues(sidecar, 'talos_alert_sidecar_connections')).get('tcp') ?? 0;
    const line = (msg: string): string => `${JSON.stringify({ msg, 'talos-level': 'info', 'talos-service': 'svc', 'talos-time': new Date().toISOString() })}\n`;
    try {
      // A slowloris (bytes, no newline) and two idle connections fill the limit.
      const a = await connect();
      a.s.write('{"msg":"never fin');
      await until(async () => (await metricValues(sidecar, 'talos_alert_sidecar_bytes_received_total')).get('tcp') ?? 0, (n) => n === 17);
      const b = await connect();
      const c = await connect();
      await until(conns, (n) => n === 3);

      // A node arrives: the oldest silent connection (the slowloris) makes room; its partial line is a fragment.
      const d = await connect();
      d.s.write(line('d1'));
      expect(await isClosed(a.closed)).toBe(true);
      await until(() => sidecar.pipeline.accepted, (n) => n === 1);
      await until(() => sidecar.pipeline.rejected('fragment'), (n) => n === 1);

      // C delivers a line: now only B is silent, and B is the one to go for E.
      c.s.write(line('c1'));
      await until(() => sidecar.pipeline.accepted, (n) => n === 2);
      const e = await connect();
      expect(await isClosed(b.closed)).toBe(true);
      e.s.write(line('e1'));
      await until(() => sidecar.pipeline.accepted, (n) => n === 3);

      // Every connection has delivered lines: a newcomer is refused, and the three nodes keep their slots.
      const f = await connect();
      expect(await isClosed(f.closed)).toBe(true);
      for (const x of [c, d, e]) expect(x.s.destroyed).toBe(false);
      for (const [x, msg] of [[c, 'c2'], [d, 'd2'], [e, 'e2']] as const) x.s.write(line(msg));
      await until(() => sidecar.pipeline.accepted, (n) => n === 6);
      expect(await conns()).toBe(3);
    } finally {
      for (const s of open) s.destroy();
      await sidecar.close();
    }
  });
});

function heapNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
