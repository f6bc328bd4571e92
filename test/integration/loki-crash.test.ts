/**
 * kill -9 of the whole sidecar (`node dist/cli.js run`, built by `npm test`)
 * while Loki is down: every line Talos sent while the sidecar was up reaches
 * Loki after the restart, none twice; lines Loki already has are not
 * re-sent after another kill -9; nothing is left unacknowledged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/loki-fixtures.js';
import { startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Sum of a metric's series in the sidecar's /metrics. */
async function scrape(httpPort: number, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m !== null && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

/** Talos service records (json_lines) with unique messages `<tag> #<i>`. */
async function sendTalosLines(port: number, tag: string, from: number, count: number): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  let buf = '';
  for (let i = from; i < from + count; i++) {
    const rec = { msg: `${tag} #${i}`, 'talos-level': 'info', 'talos-service': i % 2 ? 'kubelet' : 'etcd', 'talos-time': new Date().toISOString() };
    buf += `${JSON.stringify(rec)}\n`;
  }
  await new Promise<void>((r) => sock.end(buf, r));
}

describe('sidecar kill -9 with a Loki spool', () => {
  let rx: LokiReceiver;
  let work: string;
  let spoolDir: string;
  let sidecar: { child: ChildProcess; ingestPort: number; httpPort: number; log: string[] } | undefined;

  async function startSidecar(): Promise<NonNullable<typeof sidecar>> {
    const ingestPort = await freePort();
    const httpPort = await freePort();
    const log: string[] = [];
    const child = spawn(
      process.execPath,
      [CLI, 'run', '--config', join(work, 'config.yaml'), '--listen', `127.0.0.1:${ingestPort}`, '--http-listen', `127.0.0.1:${httpPort}`,
        '--loki-url', rx.url, '--spool-dir', spoolDir, '--log-level', 'warn'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    const s = { child, ingestPort, httpPort, log };
    await eventually(async () => {
      expect(child.exitCode, log.join('')).toBeNull();
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
    }, 15_000);
    return s;
  }

  async function kill9(s: NonNullable<typeof sidecar>): Promise<void> {
    const exited = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
    work = await mkdtemp(join(tmpdir(), 'loki-crash-'));
    spoolDir = join(work, 'spool');
    // Spool after one failed try, so the test need not wait out Promtail-style backoff.
    await writeFile(join(work, 'config.yaml'), 'loki:\n  max_retries: 1\n  min_backoff: 50ms\n  max_backoff: 200ms\n  batch_wait: 100ms\n');
    rx = await startLokiReceiver({ mode: { kind: 'down' } });
  });

  afterAll(async () => {
    sidecar?.child.kill('SIGKILL');
    await rx?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('delivers every line sent while it was up, once, across kill -9 and restart', async () => {
    // Phase 1: Loki down. Lines go to the spool; then the sidecar is killed.
    sidecar = await startSidecar();
    await sendTalosLines(sidecar.ingestPort, 'down', 0, 2000);
    const s1 = sidecar;
    await eventually(async () => expect(await scrape(s1.httpPort, 'talos_alert_sidecar_lines_received_total')).toBe(2000), 10_000);
    // Every line read is in the write-ahead log (written in the turn that read it), unacknowledged; kill at once.
    expect(await scrape(s1.httpPort, 'talos_alert_sidecar_loki_spool_pending_bytes')).toBeGreaterThan(0);
    await kill9(s1);
    expect(rx.entries).toHaveLength(0);

    // Phase 2: Loki back, sidecar restarted on the same spool; more lines arrive.
    await rx.setMode({ kind: 'accept' });
    sidecar = await startSidecar();
    await sendTalosLines(sidecar.ingestPort, 'up', 0, 500);
    const want = [...Array.from({ length: 2000 }, (_, i) => `down #${i}`), ...Array.from({ length: 500 }, (_, i) => `up #${i}`)];
    await rx.waitFor(() => new Set(rx.entries.map((e) => e.line)).size >= want.length, 20_000, 'every line');
    const got = new Set(rx.entries.map((e) => e.line));
    expect(want.filter((l) => !got.has(l))).toEqual([]);
    const duplicates = rx.entries.length - got.size;
    expect(duplicates).toBe(0);
    for (const e of rx.entries) expect(e.labels).toMatch(/job="talos-kernel"/);

    // Phase 3: Loki up, kill -9 after delivery: nothing is re-sent on the next start.
    const s2 = sidecar;
    await eventually(async () => expect(await scrape(s2.httpPort, 'talos_alert_sidecar_loki_spool_pending_bytes')).toBe(0), 10_000);
    await kill9(s2);
    const before = rx.entries.length;
    sidecar = await startSidecar();
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.entries.length).toBe(before);
    expect(await scrape(sidecar.httpPort, 'talos_alert_sidecar_loki_spool_pending_bytes')).toBe(0);
    // Acknowledged segments are deleted: what remains is the segment being written and the position.
    expect((await readdir(spoolDir)).filter((f) => f.endsWith('.wal')).length).toBeLessThanOrEqual(2);
  }, 90_000); // three sidecar processes; slow on a loaded machine
});
