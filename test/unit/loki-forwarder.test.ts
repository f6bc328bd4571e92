/**
 * The hand-over to the Loki thread: raw records in, decoded entries at the
 * Loki receiver (snappy + protobuf, decoded as Loki decodes them), the Loki
 * thread's metrics served by the ingest thread's registry. Runs both modes:
 * `inline` (the host behind a MessageChannel in this thread, from the TS
 * sources) and `worker` (a real worker thread, from dist/ as `npm test`
 * builds it).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { LokiForwarder as SourceForwarder, type LokiForwarderDeps } from '../../src/sinks/loki/thread/forwarder.js';
import type { HostConfig } from '../../src/sinks/loki/thread/protocol.js';
import { RecordFrameWriter, readRecordFrame } from '../../src/sinks/loki/thread/record-frame.js';
import { eventually, lokiTestConfig, metricValue, silentLogger } from '../helpers/loki-fixtures.js';
import { parseLabels, startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';

const DIST_FORWARDER = resolve(import.meta.dirname, '../../dist/sinks/loki/thread/forwarder.js');

type ForwarderClass = typeof SourceForwarder;

function talosRecord(i: number, service?: string): string {
  const rec: Record<string, unknown> = { msg: `line #${i} \u00e9\u2603 "quoted"`, 'talos-level': 'info', 'talos-time': new Date(Date.UTC(2026, 11, 7, 8, 0, 0, i)).toISOString(), seq: i };
  if (service !== undefined) rec['talos-service'] = service;
  return JSON.stringify(rec);
}

function hostConfig(url: string, over: Partial<HostConfig['loki']> = {}): HostConfig {
  const d = defaultConfig();
  return { loki: lokiTestConfig(url, over), talos: { ...d.talos, futureToleranceMs: 10 * 365 * 86_400_000 }, log: { ...d.log, level: 'fatal' } };
}

describe('record frames', () => {
  it('round-trip text (multi-byte, quotes, empty), peers and receive times', () => {
    const w = new RecordFrameWriter();
    const recs: Array<[string, string, 'tcp' | 'udp', number]> = [
      ['{"msg":"a"}', '10.0.0.1', 'tcp', 1.5],
      ['', 'fd00::2', 'udp', 2],
      ['{"msg":"\u00e9\u{1F600}\\"x\\""}', '10.0.0.1', 'udp', 1_765_000_000_000],
    ];
    for (const r of recs) w.add(...r);
    // Larger than the initial buffer: it grows.
    const big = 'x'.repeat(700_000);
    w.add(big, 'node-9', 'tcp', 3);
    recs.push([big, 'node-9', 'tcp', 3]);
    const f = w.take();
    expect(f.records).toBe(4);
    const got: typeof recs = [];
    expect(readRecordFrame(f.buf, f.len, (...r) => got.push(r))).toBe(4);
    expect(got).toEqual(recs);
    expect(w.records).toBe(0);
  });
});

for (const mode of ['inline', 'worker'] as const) {
  describe(`LokiForwarder (${mode})`, () => {
    let rx: LokiReceiver;
    let Forwarder: ForwarderClass;
    let work: string;

    beforeAll(async () => {
      if (mode === 'worker') {
        if (!existsSync(DIST_FORWARDER)) throw new Error(`${DIST_FORWARDER} is missing: run "npm run build" first (npm test does)`);
        Forwarder = ((await import(pathToFileURL(DIST_FORWARDER).href)) as { LokiForwarder: ForwarderClass }).LokiForwarder;
      } else {
        Forwarder = SourceForwarder;
      }
      rx = await startLokiReceiver();
      work = await mkdtemp(join(tmpdir(), 'loki-fwd-'));
    });
    afterAll(async () => {
      await rx?.close();
      if (work !== undefined) await rm(work, { recursive: true, force: true });
    });

    function forwarder(cfg: HostConfig, over: Partial<LokiForwarderDeps> = {}): { f: SourceForwarder; registry: Registry } {
      const registry = new Registry();
      return { f: new Forwarder(cfg, { registry, logger: silentLogger, mode, ...over }), registry };
    }

    it('decodes every record on the Loki thread and delivers it with labels and metadata; metrics come across', async () => {
      rx.entries.length = 0;
      const { f, registry } = forwarder(hostConfig(rx.url));
      await f.start();
      expect(f.threadMode).toBe(mode);
      for (let i = 0; i < 3000; i++) f.record(talosRecord(i, i % 2 === 0 ? 'kubelet' : undefined), i % 3 === 0 ? '10.0.0.7' : '10.0.0.8', 'tcp', Date.now());
      f.record('{not json', '10.0.0.7', 'tcp', Date.now()); // refused by the decoder (the ingest thread counts it), nothing else lost
      await rx.waitForLines(3000, 10_000);
      await eventually(async () => expect(await metricValue(registry, 'lines_sent_total')).toBe(3000), 5000);
      await f.stop();
      const lines = new Set(rx.entries.map((e) => e.line));
      expect(lines.size).toBe(3000);
      expect(lines.has('line #2999 \u00e9\u2603 "quoted"')).toBe(true);
      const e0 = rx.entries.find((e) => e.line.startsWith('line #0 '))!;
      expect(parseLabels(e0.labels)).toEqual({ job: 'talos-kernel', host: '10.0.0.7', talos_service: 'kubelet', level: 'info' });
      expect(e0.metadata).toMatchObject({ seq: '0' });
      const e1 = rx.entries.find((e) => e.line.startsWith('line #1 '))!;
      expect(parseLabels(e1.labels)).toMatchObject({ job: 'talos-kernel', host: '10.0.0.8', talos_service: 'kernel' });
      // Final values are still served after the thread stopped.
      expect(await metricValue(registry, 'lines_sent_total')).toBe(3000);
    });

    it('stop() delivers what was handed over in the same turn', async () => {
      rx.entries.length = 0;
      const { f } = forwarder(hostConfig(rx.url, { batchWaitMs: 60_000 }));
      await f.start();
      for (let i = 0; i < 500; i++) f.record(talosRecord(i), '10.0.0.9', 'udp', Date.now());
      await f.stop();
      expect(rx.entries).toHaveLength(500);
      f.record(talosRecord(1), '10.0.0.9', 'udp', Date.now()); // after stop: counted, not thrown
    });

    it('refuses to start with a spool it cannot open, as a configuration error', async () => {
      const file = join(work, `not-a-dir-${mode}`);
      await writeFile(file, 'x');
      const { f } = forwarder(hostConfig(rx.url, { spoolDir: join(file, 'spool') }));
      await expect(f.start()).rejects.toThrow(/config: loki: .*not-a-dir/);
    });

    it('counts records dropped when the Loki thread is too far behind, and loses none before that', async () => {
      rx.entries.length = 0;
      const { f, registry } = forwarder(hostConfig(rx.url), { maxInflightBytes: 300 * 1024 });
      await f.start();
      // One synchronous burst: the Loki thread cannot hand buffers back until this turn ends.
      let handed = 0;
      for (let i = 0; i < 20_000; i++, handed++) f.record(talosRecord(i), '10.0.0.1', 'tcp', Date.now());
      await eventually(async () => {
        const sent = await metricValue(registry, 'lines_sent_total');
        const dropped = await metricValue(registry, 'dropped_lines_total', { reason: 'overloaded' });
        expect(dropped).toBeGreaterThan(0);
        expect(sent + dropped).toBe(handed);
      }, 10_000);
      // What got through is a prefix: the earliest lines, in order, none missing.
      const got = rx.entries.map((e) => Number(/#(\d+)/.exec(e.line)![1]));
      expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
      await f.stop();
    });

    if (mode === 'worker') {
      it('restarts a Loki thread that died; with a spool nothing it had taken is lost', async () => {
        rx.entries.length = 0;
        const spoolDir = join(work, 'spool-restart');
        const { f, registry } = forwarder(hostConfig(rx.url, { spoolDir }));
        await f.start();
        for (let i = 0; i < 1000; i++) f.record(talosRecord(i), '10.0.0.2', 'tcp', Date.now());
        await rx.waitForLines(1000, 10_000);
        // Fault injection: a frame the Loki thread cannot parse makes it throw and exit.
        const ch = (f as unknown as { channel: { port: { postMessage(m: unknown, t?: ArrayBuffer[]): void } } }).channel;
        const bad = new ArrayBuffer(8);
        new DataView(bad).setUint32(0, 5, true);
        ch.port.postMessage({ t: 'frame', buf: bad, len: 8 }, [bad]);
        // Down: counted, not thrown; then back within about a second.

        let i = 1000;
        await eventually(() => {
          f.record(talosRecord(i++), '10.0.0.2', 'tcp', Date.now());
          expect(rx.entries.length).toBeGreaterThan(1000);
        }, 10_000);
        const down = await metricValue(registry, 'dropped_lines_total', { reason: 'loki_thread_down' });
        await eventually(async () => expect(await metricValue(registry, 'lines_sent_total')).toBe(i - down - 1000), 10_000);
        await f.stop();
        const got = new Set(rx.entries.map((e) => Number(/#(\d+)/.exec(e.line)![1])));
        for (let k = 0; k < 1000; k++) expect(got.has(k)).toBe(true);
        expect(got.size).toBe(i - down);
      });
    }
  });
}
