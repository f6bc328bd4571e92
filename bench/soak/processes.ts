/**
 * The soak's real processes: the sidecar (`node dist/cli.js run …`, stopped
 * with SIGTERM like Kubernetes does) and Debian's Alertmanager. Both keep
 * their port across restarts, wait (bounded) for readiness, and can be
 * scraped. Linux only (peak RSS comes from /proc/<pid>/status).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/free-port.js';
import { REPO_ROOT } from '../rule-sets.js';
export { freePort };

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';
const CLI = `${REPO_ROOT}dist/cli.js`;

/** Prometheus text exposition → `name{labels}` → value (labels as exposed). */
export type Scrape = Map<string, number>;

export function parseMetrics(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (sp < 0) continue;
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Sum of every series of `name` whose label text contains all of `match` (e.g. `reason="too_long"`). */
export function sumOf(scrape: Scrape, name: string, ...match: string[]): number {
  let sum = 0;
  for (const [k, v] of scrape) {
    if (k !== name && !k.startsWith(`${name}{`)) continue;
    if (match.every((m) => k.includes(m))) sum += v;
  }
  return sum;
}

async function scrapeUrl(url: string): Promise<Scrape> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}

async function waitReady(url: string, proc: () => ChildProcess | undefined, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const p = proc();
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) throw new Error(`${what} exited before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready at ${url} within ${timeoutMs} ms`);
}

/** SIGTERM, SIGKILL after `graceMs`; the exit code (null when killed by a signal) and how long it took. */
async function terminate(child: ChildProcess, graceMs: number): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const t0 = Date.now();
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode, ms: 0 };
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const res = await exited;
  clearTimeout(t);
  return { ...res, ms: Date.now() - t0 };
}

/** Bytes from a `/proc/<pid>/status` field (VmRSS, VmHWM); 0 when the process is gone. */
function procStatusBytes(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return 0;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

export interface SidecarSpec {
  rules: string;
  ingestPort: number;
  httpPort: number;
  alertmanagerUrl: string;
  lokiUrl: string;
  spoolDir: string;
  stateFile: string;
  /** Each run's log goes to `<logPrefix>-<n>.log`. */
  logPrefix: string;
}

export class SidecarProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private runs = 0;
  /** Set when the process exits without being asked to. */
  unexpectedExit: string | undefined;

  constructor(private readonly spec: SidecarSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get metricsUrl(): string {
    return `http://127.0.0.1:${this.spec.httpPort}/metrics`;
  }

  /** Start and wait until /readyz answers 200; resolves with the time that took. */
  async start(): Promise<number> {
    const t0 = Date.now();
    this.runs++;
    const s = this.spec;
    this.log = createWriteStream(`${s.logPrefix}-${this.runs}.log`);
    const child = spawn(
      process.execPath,
      [
        CLI, 'run',
        '--rules', s.rules,
        '--listen', `127.0.0.1:${s.ingestPort}`,
        '--http-listen', `127.0.0.1:${s.httpPort}`,
        '--alertmanager-url', s.alertmanagerUrl,
        '--loki-url', s.lokiUrl,
        '--spool-dir', s.spoolDir,
        '--state-file', s.stateFile,
        '--log-level', 'info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.unexpectedExit = `sidecar run ${this.runs} exited by itself: code ${code ?? '-'} signal ${signal ?? '-'}`;
    });
    this.child = child;
    await waitReady(`http://127.0.0.1:${s.httpPort}/readyz`, () => this.child, 30_000, 'sidecar');
    return Date.now() - t0;
  }

  /** SIGTERM and wait for the drain (bounded); what the process reported before it went. */
  async stop(): Promise<{ code: number | null; signal: string | null; ms: number; peakRss: number }> {
    const child = this.child;
    if (child === undefined) return { code: null, signal: null, ms: 0, peakRss: 0 };
    const peakRss = procStatusBytes(child.pid, 'VmHWM');
    this.child = undefined;
    const res = await terminate(child, 30_000);
    this.log?.end();
    return { ...res, peakRss };
  }

  rss(): number {
    return procStatusBytes(this.child?.pid, 'VmRSS');
  }

  peakRss(): number {
    return procStatusBytes(this.child?.pid, 'VmHWM');
  }

  scrape(): Promise<Scrape> {
    return scrapeUrl(this.metricsUrl);
  }
}

/** Debian's Alertmanager with a null receiver, no clustering, its own storage dir; same port across restarts. */
export class AlertmanagerProcess {
  private child: ChildProcess | undefined;
  private out = '';
  private readonly configFile: string;

  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {
    this.configFile = join(dir, 'alertmanager.yml');
    writeFileSync(this.configFile, "route:\n  receiver: 'null'\n  group_by: ['...']\nreceivers:\n  - name: 'null'\n");
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.out;
  }

  async start(): Promise<void> {
    const child = spawn(
      ALERTMANAGER_BIN,
      [`--config.file=${this.configFile}`, `--storage.path=${join(this.dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--cluster.listen-address=', '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (b: Buffer): void => void (this.out = (this.out + b.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
    await waitReady(`${this.url}/-/ready`, () => this.child, 30_000, 'alertmanager');
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child !== undefined) await terminate(child, 10_000);
  }

  scrape(): Promise<Scrape> {
    return scrapeUrl(`${this.url}/metrics`);
  }

  async alerts(): Promise<Array<{ labels: Record<string, string>; status: { state: string }; startsAt: string }>> {
    const res = await fetch(`${this.url}/api/v2/alerts`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}`);
    return (await res.json()) as Array<{ labels: Record<string, string>; status: { state: string }; startsAt: string }>;
  }
}
