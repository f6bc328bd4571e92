/**
 * A real Alertmanager for the latency benchmark: Debian's
 * /usr/bin/prometheus-alertmanager on 127.0.0.1, a temp config with a null
 * receiver, temp storage, no cluster gossip. Missing binary: an error that
 * says what to install (the scenario then reports it, never a fake figure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reapOnExit } from './reaper.js';
import { freePort } from './lib/free-port.js';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

const CONFIG = `route:
  receiver: 'null'
  group_by: ['...']
receivers:
  - name: 'null'
`;

export interface BenchAlertmanager {
  readonly url: string;
  stop(): Promise<void>;
}

async function ready(url: string, proc: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && proc.exitCode === null) {
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

export async function startBenchAlertmanager(): Promise<BenchAlertmanager> {
  try {
    accessSync(ALERTMANAGER_BIN, constants.X_OK);
  } catch {
    throw new Error(`${ALERTMANAGER_BIN} not found: apt-get install prometheus-alertmanager`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'talos-bench-am-'));
  writeFileSync(join(dir, 'alertmanager.yml'), CONFIG);
  // A free port can be taken between probing and Alertmanager's listen: a few tries.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    let output = '';
    const proc = spawn(
      ALERTMANAGER_BIN,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    reapOnExit(proc);
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const url = `http://127.0.0.1:${port}`;
    if (await ready(url, proc, 20_000)) {
      return {
        url,
        async stop() {
          await stopProcess(proc);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stopProcess(proc);
    if (attempt === 3 || !/address already in use/.test(output)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`alertmanager did not become ready: ${output}`);
    }
  }
  throw new Error('unreachable');
}
