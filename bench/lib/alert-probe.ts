/**
 * Shared by the reliability benchmarks (cardinality, api-load): the sidecar as
 * a real process with a stand-in Alertmanager, and honest alerts whose
 * latency is measured end to end — one line from a new loopback address (a
 * new `host`) every period, timed until its alert is POSTed to us.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { connectFrom } from './connect-from.js';
import { freePort } from './free-port.js';
import { reapOnExit } from '../reaper.js';
import { REPO_ROOT } from '../rule-sets.js';

export const HONEST_RULE = `  - name: honest
    rules:
      - alert: DiskFailure
        expr: sum by (host) (count_over_time({job="talos-kernel"} |= "honest disk failure" [5m])) > 0
`;

export const talosRecord = (msg: string, service?: string): string =>
  `${JSON.stringify({ msg, 'talos-level': 'error', 'talos-time': new Date().toISOString(), ...(service === undefined ? {} : { 'talos-service': service }) })}\n`;

export function httpGet(port: number, path: string): Promise<{ ms: number; status: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      })
      .on('error', () => resolve({ ms: performance.now() - t0, status: 0, body: '' }));
  });
}

/** GET and discard the body (a poller must not cost the benchmark more than the server). */
export function httpDrain(port: number, path: string, agent: http.Agent): Promise<{ ms: number; status: number; bytes: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 30_000, agent }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, bytes }));
      })
      .on('error', () => resolve({ ms: performance.now() - t0, status: 0, bytes: 0 }));
  });
}

export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

export interface SidecarUnderTest {
  proc: ChildProcess;
  httpPort: number;
  ingestPort: number;
  rss(): number;
  /** CPU time (user + system) the sidecar used so far, ms. */
  cpuMs(): number;
  /** Alerts POSTed to the stand-in Alertmanager: alertname/host → first arrival (performance.now()). */
  arrived: Map<string, number>;
  stop(): Promise<void>;
}

/** Spawn `node <cli> run` (SIDECAR_CLI, SIDECAR_NODE_ARGS) against a stand-in Alertmanager. */
export async function startSidecarUnderTest(rulesFile: string, configFile: string): Promise<SidecarUnderTest> {
  const cli = process.env.SIDECAR_CLI ?? `${REPO_ROOT}dist/cli.js`;
  const arrived = new Map<string, number>();
  const am = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const now = performance.now();
      try {
        for (const a of JSON.parse(body) as Array<{ labels: Record<string, string> }>) {
          const k = `${a.labels.alertname}/${a.labels.host ?? ''}`;
          if (!arrived.has(k)) arrived.set(k, now);
        }
      } catch {
        // not an alert list
      }
      res.writeHead(200).end('{}');
    });
  });
  const amPort = await freePort();
  await new Promise<void>((r) => am.listen(amPort, '127.0.0.1', r));
  const [httpPort, ingestPort] = [await freePort(), await freePort()];
  const nodeArgs = (process.env.SIDECAR_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const args = [...nodeArgs, cli, 'run', '--config', configFile, '--rules', rulesFile, '--listen', `127.0.0.1:${ingestPort}`, '--http-listen', `127.0.0.1:${httpPort}`, '--alertmanager-url', `http://127.0.0.1:${amPort}`, '--log-level', 'error'];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  reapOnExit(proc);
  for (let i = 0; i < 500 && proc.exitCode === null && (await httpGet(httpPort, '/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
  return {
    proc,
    httpPort,
    ingestPort,
    arrived,
    cpuMs: () => {
      // /proc/<pid>/stat fields 14 and 15: utime, stime in clock ticks (100 Hz).
      const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    },
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) * 1024,
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      am.close();
    },
  };
}

/** Honest alerts: every `periodMs` a line from a new loopback host; latency until its DiskFailure alert arrives. */
export class HonestProber {
  private readonly sent = new Map<string, number>();
  private readonly sockets: net.Socket[] = [];
  private timer: NodeJS.Timeout | undefined;
  private n = 0;

  constructor(private readonly sut: SidecarUnderTest) {}

  start(periodMs: number): void {
    this.timer = setInterval(() => {
      const host = `127.0.1.${++this.n}`;
      void connectFrom(this.sut.ingestPort, host).then((s) => {
        this.sockets.push(s);
        this.sent.set(`DiskFailure/${host}`, performance.now());
        s.end(talosRecord('honest disk failure on sda'));
      });
    }, periodMs);
  }

  /** Stop sending, wait up to `graceMs` for stragglers, and summarise. */
  async finish(graceMs: number): Promise<{ sent: number; missing: number; p50: number; p99: number; max: number }> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const deadline = performance.now() + graceMs;
    while (performance.now() < deadline && [...this.sent.keys()].some((k) => !this.sut.arrived.has(k))) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.sockets) s.destroy();
    const lat = [...this.sent].filter(([k]) => this.sut.arrived.has(k)).map(([k, at]) => this.sut.arrived.get(k)! - at).sort((a, b) => a - b);
    const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
    return { sent: this.sent.size, missing: this.sent.size - lat.length, p50: pct(50), p99: pct(99), max: lat[lat.length - 1] ?? NaN };
  }
}

export const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
