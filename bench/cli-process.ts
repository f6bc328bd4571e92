/**
 * The sidecar as users run it — `node dist/cli.js run …` in its own process —
 * for the figures that belong to the real process: time to ready and RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { reapOnExit } from './reaper.js';
import { REPO_ROOT } from './rule-sets.js';
import { freePort } from './lib/free-port.js';
export { freePort };

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

export interface CliSidecar {
  readonly proc: ChildProcess;
  readonly httpPort: number;
  readonly ingestPort: number;
  /** Poll /readyz every 2 ms; resolves with ms since spawn. */
  waitReady(timeoutMs?: number): Promise<number>;
  /** Resident set size in bytes (/proc on Linux, else the process's own metric). */
  rss(): Promise<number>;
  /** Sum of every sample of a metric family in /metrics. */
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

/** The Node flags the image starts the sidecar with: the Dockerfile's ENTRYPOINT between `node` and `dist/cli.js`. */
export function imageNodeArgs(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(`${REPO_ROOT}Dockerfile`, 'utf8'));
  const entry = m === null ? [] : (JSON.parse(m[1]!) as string[]);
  const at = entry.indexOf('dist/cli.js');
  if (entry[0] !== 'node' || at < 0) throw new Error('Dockerfile: ENTRYPOINT is not ["node", …, "dist/cli.js"]');
  return entry.slice(1, at);
}

/** `node dist/cli.js run …` with the image's Node flags unless `nodeArgs` says otherwise. */
export async function spawnCliSidecar(rules: readonly string[], opts: { nodeArgs?: string[]; extraArgs?: string[] } = {}): Promise<CliSidecar> {
  const httpPort = await freePort();
  const ingestPort = await freePort();
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? imageNodeArgs()),
      `${REPO_ROOT}dist/cli.js`,
      'run',
      ...rules.flatMap((r) => ['--rules', r]),
      '--listen',
      `127.0.0.1:${ingestPort}`,
      '--http-listen',
      `127.0.0.1:${httpPort}`,
      '--log-level',
      'warn',
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  reapOnExit(proc);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const metrics = async (): Promise<string> => (await get(httpPort, '/metrics')).body;
  return {
    proc,
    httpPort,
    ingestPort,
    async waitReady(timeoutMs = 15_000) {
      const deadline = t0 + timeoutMs;
      while (performance.now() < deadline && proc.exitCode === null) {
        if ((await get(httpPort, '/readyz')).status === 200) return performance.now() - t0;
        await new Promise((r) => setTimeout(r, 2));
      }
      throw new Error(`sidecar not ready within ${timeoutMs} ms (exit ${proc.exitCode}): ${stderr}`);
    },
    async rss() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        if (m !== null) return Number(m[1]) * 1024;
      } catch {
        // not Linux
      }
      return sumMetric(await metrics(), 'process_resident_memory_bytes');
    },
    async metric(name) {
      return sumMetric(await metrics(), name);
    },
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
