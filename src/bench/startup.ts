/**
 * Start to ready: spawn `node dist/cli.js run` with the seed rules, poll
 * `/readyz` every 2 ms, and time spawn → first 200. Node's own start
 * (`node -e 0`, spawn → exit) is measured alongside, to show how much of it
 * is the runtime rather than the sidecar.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { REPO_ROOT, SEED_RULES } from './rule-sets.js';

export interface StartupResult {
  readyMs: number[];
  nodeBareMs: number[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function readyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function once(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [`${REPO_ROOT}dist/cli.js`, 'run', '--rules', SEED_RULES, '--listen', '127.0.0.1:0', '--http-listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    const deadline = t0 + 15_000;
    while (performance.now() < deadline && proc.exitCode === null) {
      if ((await readyz(port)) === 200) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`sidecar not ready within 15 s (exit ${proc.exitCode}): ${stderr}`);
  } finally {
    proc.kill('SIGTERM');
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
  }
}

async function nodeBare(): Promise<number> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return performance.now() - t0;
}

export async function startToReady(runs: number): Promise<StartupResult> {
  const readyMs: number[] = [];
  const nodeBareMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    nodeBareMs.push(await nodeBare());
    readyMs.push(await once());
  }
  return { readyMs, nodeBareMs };
}
