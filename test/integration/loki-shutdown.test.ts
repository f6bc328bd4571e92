/**
 * SIGTERM of the whole sidecar (`node dist/cli.js run`, built by `npm test`)
 * with Loki forwarding on the Loki worker thread and no spool: what was read
 * before the signal is pushed before the process exits 0, although the open
 * batch would otherwise have waited a minute (`loki.batch_wait`). This is the
 * hand-over's drain path: the last frame of the ingest thread, the Loki
 * thread's flush, then its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/loki-fixtures.js';
import { startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';
import { freePort } from '../helpers/ports.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');

async function linesReceived(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^talos_alert_sidecar_lines_received_total\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

describe('sidecar SIGTERM with Loki forwarding on the Loki thread', () => {
  let rx: LokiReceiver;
  let work: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
    work = await mkdtemp(join(tmpdir(), 'loki-shutdown-'));
    await writeFile(join(work, 'config.yaml'), 'loki:\n  batch_wait: 60s\n  batch_size: 64MiB\n');
    rx = await startLokiReceiver();
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await rx?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('pushes every line read before the signal, then exits 0', async () => {
    const ingestPort = await freePort();
    const httpPort = await freePort();
    const log: string[] = [];
    const proc = spawn(
      process.execPath,
      [CLI, 'run', '--config', join(work, 'config.yaml'), '--listen', `127.0.0.1:${ingestPort}`, '--http-listen', `127.0.0.1:${httpPort}`, '--loki-url', rx.url, '--log-level', 'warn'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    proc.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
    proc.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    await eventually(async () => {
      expect(proc.exitCode, log.join('')).toBeNull();
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
    }, 15_000);

    const n = 5000;
    const sock = net.connect(ingestPort, '127.0.0.1');
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    let buf = '';
    for (let i = 0; i < n; i++) buf += `${JSON.stringify({ msg: `before the signal #${i}`, 'talos-level': 'info', 'talos-service': 'kubelet', 'talos-time': new Date().toISOString() })}\n`;
    await new Promise<void>((r) => sock.end(buf, r));
    await eventually(async () => expect(await linesReceived(httpPort)).toBe(n), 10_000);
    // batch_wait is a minute: nothing has been pushed yet.
    expect(rx.entries).toHaveLength(0);

    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited, log.join('')).toBe(0);
    const got = new Set(rx.entries.map((e) => e.line));
    expect(got.size).toBe(n);
    expect(rx.entries).toHaveLength(n);
    for (let i = 0; i < n; i += 997) expect(got.has(`before the signal #${i}`)).toBe(true);
  }, 60_000);
});
