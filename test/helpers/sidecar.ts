/** Start the whole sidecar in-process on 127.0.0.1 ephemeral ports, for integration tests. */
import net from 'node:net';
import { pino } from 'pino';
import { startSidecar, type Sidecar } from '../../src/app.js';
import { defaultConfig, type Config } from '../../src/config/schema.js';

export function testConfig(over: (cfg: Config) => void = () => {}): Config {
  const cfg = defaultConfig();
  cfg.ingest.listen = '127.0.0.1:0';
  cfg.http.listen = '127.0.0.1:0';
  cfg.rules.paths = ['rules/talos-kernel.yaml'];
  cfg.rules.watch = false;
  cfg.log.level = 'error';
  over(cfg);
  return cfg;
}

export async function startTestSidecar(over: (cfg: Config) => void = () => {}): Promise<Sidecar> {
  return startSidecar(testConfig(over), { logger: pino({ level: 'silent' }) });
}

/** Write Talos json_lines to the sidecar over one TCP connection and close it. */
export function sendLines(port: number, lines: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(lines.map((l) => `${l}\n`).join('')));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

/** A kernel record in the exact Talos format, stamped now unless told otherwise. */
export function kernelRecord(msg: string, timeMs = Date.now(), priority = 'err'): string {
  const time = new Date(timeMs).toISOString();
  return JSON.stringify({ clock: 912873321, facility: 'kern', msg: `${msg}\n`, priority, seq: 10231, 'talos-level': 'error', 'talos-time': time });
}

export async function until<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
    last = await fn();
  }
  return last;
}

export const BTRFS_MSG = 'BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230';
