/**
 * kill -9 of a process whose Loki pusher is spooling (Loki down): the next
 * start replays what reached the spool — a gap-free prefix of the lines
 * handed in, each once — skips the torn record the kill left, and ends with
 * an empty spool. Runs the built pusher (dist/, as `npm test` builds it) in a
 * child process; loki-crash.test.ts does the same with the whole sidecar.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LokiPusher } from '../../src/sinks/loki/pusher.js';
import { eventually, lokiTestConfig, metricValue, silentLogger } from '../helpers/loki-fixtures.js';
import { startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');

const HARNESS = `
import { createRequire } from 'node:module';
const [url, spoolDir, dist] = process.argv.slice(2);
const require = createRequire(dist + '/');
const { Registry } = require('prom-client');
const { pino } = require('pino');
const { defaultConfig } = await import(dist + '/config/schema.js');
const { LokiPusher } = await import(dist + '/sinks/loki/pusher.js');
const { LabelSetCache } = await import(dist + '/log-event.js');
const cfg = { ...defaultConfig().loki, url, spoolDir, batchWaitMs: 20, batchBytes: 4096, maxRetries: 1, minBackoffMs: 10, maxBackoffMs: 20, spoolMaxBytes: 64 * 1024 * 1024 };
const pusher = new LokiPusher(cfg, { registry: new Registry(), logger: pino({ level: 'silent' }) });
await pusher.start();
const cache = new LabelSetCache();
let i = 0;
setInterval(() => {
  for (let k = 0; k < 50; k++, i++) {
    pusher.handle({ timeMs: 1772162047000 + i, timeNsRem: 0, receivedMs: 0, line: 'kernel line #' + i,
      stream: cache.intern({ job: 'talos-kernel', host: '10.0.0.' + (i % 3) }), metadata: undefined, source: 'kernel' });
  }
  process.stdout.write(i + '\\n');
}, 5);
`;

describe('loki spool across kill -9', () => {
  let work: string;
  let rx: LokiReceiver;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(join(DIST, 'sinks/loki/pusher.js'))) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
    work = await mkdtemp(join(tmpdir(), 'loki-kill-'));
    await writeFile(join(work, 'harness.mjs'), HARNESS);
    rx = await startLokiReceiver({ mode: { kind: 'down' } });
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await rx?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('replays a gap-free prefix, each line once, and leaves nothing unacknowledged', async () => {
    const spoolDir = join(work, 'spool');
    child = spawn(process.execPath, [join(work, 'harness.mjs'), rx.url, spoolDir, DIST], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
    let handed = 0;
    child.stdout!.on('data', (d: Buffer) => {
      const last = d.toString().trim().split('\n').pop();
      if (last) handed = Number(last);
    });
    await rx.waitFor(() => handed >= 3000, 15_000, 'the child to hand in 3000 lines');
    const spoolBytes = async (): Promise<number> => {
      let n = 0;
      for (const f of await readdir(spoolDir).catch(() => [])) n += (await stat(join(spoolDir, f))).size;
      return n;
    };
    await eventually(async () => expect(await spoolBytes()).toBeGreaterThan(20_000), 10_000);
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL'); // mid-stream: writes to the spool are in flight
    await exited;
    const handedBeforeKill = handed;

    await rx.setMode({ kind: 'accept' });
    const registry = new Registry();
    const pusher = new LokiPusher(lokiTestConfig(rx.url, { spoolDir }), { registry, logger: silentLogger });
    await pusher.start();
    // Wait until the replay is over: nothing unacknowledged.
    await eventually(async () => expect(await metricValue(registry, 'spool_pending_bytes')).toBe(0), 15_000);
    await pusher.stop();

    const idx = rx.entries.map((e) => Number(/#(\d+)$/.exec(e.line)![1]));
    expect(idx.length).toBeGreaterThan(1000);
    expect(new Set(idx).size).toBe(idx.length); // each once
    const sorted = [...idx].sort((a, b) => a - b);
    expect(sorted).toEqual(Array.from({ length: idx.length }, (_, k) => k)); // a prefix, no gap
    expect(idx.length).toBeLessThanOrEqual(handedBeforeKill);
    // Batches replay in the order they were spooled: each stream (host) in order.
    const lastByHost = new Map<number, number>();
    for (const i of idx) {
      expect(i).toBeGreaterThan(lastByHost.get(i % 3) ?? -1);
      lastByHost.set(i % 3, i);
    }
    expect(await metricValue(registry, 'spool_pending_bytes')).toBe(0);
  });
});
