/**
 * Issue 16's fault test: kill -9 of a process forwarding numbered lines to
 * the Loki receiver, with a write-ahead log, during healthy forwarding,
 * during a Loki hang, during an outage and during the replay after a
 * restart. A line counts as read once the child reported it (it reports
 * after the turn's log write). Afterwards a restart with Loki healthy
 * delivers the backlog; then every reported line must be in Loki (lost = 0)
 * and duplicates at most one batch per kill. Figures are printed.
 *
 * Runs the built pusher (dist/, as `npm test` builds it) in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiReceiver, type LokiReceiver, type LokiReceiverMode } from '../helpers/loki-receiver.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');

/** argv: url spoolDir dist firstIndex produce(0|1). Prints `H <handed>` after each turn's log write, `P <pending bytes>` every 50 ms. */
const HARNESS = `
import { createRequire } from 'node:module';
const [url, spoolDir, dist, first, produce] = process.argv.slice(2);
const require = createRequire(dist + '/');
const { Registry } = require('prom-client');
const { pino } = require('pino');
const { defaultConfig } = await import(dist + '/config/schema.js');
const { LokiPusher } = await import(dist + '/sinks/loki/pusher.js');
const { LabelSetCache } = await import(dist + '/log-event.js');
const cfg = { ...defaultConfig().loki, url, spoolDir, batchWaitMs: 50, batchBytes: 16 * 1024, timeoutMs: 10_000, minBackoffMs: 20, maxBackoffMs: 200, spoolMaxBytes: 256 * 1024 * 1024 };
const registry = new Registry();
const pusher = new LokiPusher(cfg, { registry, logger: pino({ level: 'silent' }) });
await pusher.start();
const pending = registry.getSingleMetric('talos_alert_sidecar_loki_spool_pending_bytes');
setInterval(async () => process.stdout.write('P ' + (await pending.get()).values[0].value + '\\n'), 50);
const cache = new LabelSetCache();
let i = Number(first);
if (produce === '1') setInterval(() => {
  for (let k = 0; k < 40; k++, i++) {
    pusher.handle({ timeMs: Date.now(), timeNsRem: i % 1000, receivedMs: 0, line: 'numbered line #' + i,
      stream: cache.intern({ job: 'talos-kernel', host: '10.0.0.' + (i % 3) }), metadata: { seq: String(i) }, source: 'kernel' });
  }
  const n = i;
  queueMicrotask(() => process.stdout.write('H ' + n + '\\n')); // after the pusher's log write, queued earlier in this turn
}, 5);
process.on('SIGTERM', async () => { await pusher.stop(); process.exit(0); });
`;

interface Child {
  proc: ChildProcess;
  first: number;
  /** Highest index reported as read (exclusive). */
  handed: number;
  pending: number;
}

describe('loki write-ahead log across kill -9 (numbered lines)', () => {
  let work: string;
  const children: Child[] = [];
  const receivers: LokiReceiver[] = [];
  const figures: { scenario: string; read: number; lost: number; duplicates: number; kills: number; maxBatchLines: number }[] = [];

  beforeAll(async () => {
    if (!existsSync(join(DIST, 'sinks/loki/pusher.js'))) throw new Error(`${DIST} is missing: run "npm run build" first (npm test does)`);
    work = await mkdtemp(join(tmpdir(), 'loki-wal-kill-'));
    await writeFile(join(work, 'harness.mjs'), HARNESS);
  });

  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    for (const r of receivers) await r.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    console.log(`\nkill -9 fault test (lines read = reported by the child after its log write):\n${figures
      .map((f) => `  ${f.scenario.padEnd(34)} read ${String(f.read).padStart(6)}  lost ${f.lost}  duplicates ${f.duplicates}  (kills ${f.kills}, largest batch ${f.maxBatchLines} lines)`)
      .join('\n')}`);
  });

  function start(rx: LokiReceiver, spool: string, first: number, produce: boolean): Child {
    const proc = spawn(process.execPath, [join(work, 'harness.mjs'), rx.url, spool, DIST, String(first), produce ? '1' : '0'], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
    const c: Child = { proc, first, handed: first, pending: -1 };
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith('H ')) c.handed = Number(l.slice(2));
        else if (l.startsWith('P ')) c.pending = Number(l.slice(2));
      }
    });
    children.push(c);
    return c;
  }

  async function kill9(c: Child): Promise<void> {
    const exited = new Promise((r) => c.proc.once('exit', r));
    c.proc.kill('SIGKILL');
    await exited;
  }

  async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
    const until = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Restart on the spool with Loki healthy and wait until Loki acknowledged everything. */
  async function recover(rx: LokiReceiver, spool: string): Promise<void> {
    await rx.setMode({ kind: 'accept' });
    const c = start(rx, spool, 0, false);
    await waitFor(() => c.pending === 0, 30_000, 'the backlog to be acknowledged');
    await new Promise((r) => setTimeout(r, 100));
    const exited = new Promise((r) => c.proc.once('exit', r));
    c.proc.kill('SIGTERM');
    await exited;
  }

  function tally(scenario: string, rx: LokiReceiver, read: Array<[number, number]>, kills: number): void {
    const seen = new Map<number, number>();
    for (const e of rx.entries) {
      const i = Number(/#(\d+)$/.exec(e.line)![1]);
      seen.set(i, (seen.get(i) ?? 0) + 1);
    }
    let lost = 0;
    let n = 0;
    for (const [from, to] of read) {
      for (let i = from; i < to; i++) {
        n++;
        if (!seen.has(i)) lost++;
      }
    }
    const duplicates = rx.entries.length - seen.size;
    const maxBatchLines = Math.max(0, ...rx.requests.map((r) => r.lines));
    figures.push({ scenario, read: n, lost, duplicates, kills, maxBatchLines });
    expect(n).toBeGreaterThan(500);
    expect(lost).toBe(0);
    expect(duplicates).toBeLessThanOrEqual(kills * maxBatchLines);
  }

  async function scenario(name: string, mode: LokiReceiverMode, runMs: number): Promise<void> {
    const rx = await startLokiReceiver({ mode: mode.kind === 'down' ? { kind: 'down' } : { kind: 'accept' } });
    receivers.push(rx);
    const spool = join(work, name.replace(/\W+/g, '-'));
    const c = start(rx, spool, 0, true);
    await waitFor(() => c.handed > 400, 10_000, 'the child to start');
    if (mode.kind !== 'down') await rx.setMode(mode);
    await new Promise((r) => setTimeout(r, runMs));
    const read = c.handed;
    await kill9(c);
    await recover(rx, spool);
    tally(name, rx, [[0, read]], 1);
  }

  it('kill -9 while Loki is healthy loses nothing; duplicates at most the batch in flight', async () => {
    await scenario('healthy forwarding', { kind: 'accept' }, 700);
  }, 90_000);

  it('kill -9 while Loki hangs (requests never answered) loses nothing', async () => {
    await scenario('Loki hanging', { kind: 'hang' }, 1500);
  }, 90_000);

  it('kill -9 during a Loki outage loses nothing', async () => {
    await scenario('Loki down', { kind: 'down' }, 1000);
  }, 90_000);

  it('kill -9 during the replay after a restart loses nothing and resends at most one batch', async () => {
    const rx = await startLokiReceiver({ mode: { kind: 'down' } });
    receivers.push(rx);
    const spool = join(work, 'replay');
    const c = start(rx, spool, 0, true);
    await waitFor(() => c.handed > 6000, 15_000, 'a backlog of 6000 lines');
    const read = c.handed;
    await kill9(c);
    // Restart into a slow Loki (each push answered 40 ms after it is stored), kill it mid-replay.
    await rx.setMode({ kind: 'slow', delayMs: 40, store: true });
    const r = start(rx, spool, 0, false);
    await waitFor(() => rx.entries.length > read / 4, 15_000, 'a quarter of the replay');
    const before = rx.entries.length;
    await kill9(r);
    expect(before).toBeLessThan(read); // the kill really came mid-replay
    await recover(rx, spool);
    tally('replay after restart', rx, [[0, read]], 2);
  }, 90_000);
});
