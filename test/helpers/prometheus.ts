/**
 * A real Prometheus (Debian's /usr/bin/prometheus) scraping given targets, and
 * `promtool check metrics` for exposition-format linting. Missing binary →
 * throw (never a silent skip).
 *
 *   const prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], scrapeInterval: '1s' });
 *   const v = await prom.waitFor('up == 1', (r) => r.length > 0);
 *   await prom.stop();
 *
 * Expect the first scrape ~5 s after start: Prometheus hands discovered
 * targets to the scrape manager on a fixed 5 s cycle (static configs too).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, portInUse, requireBinary } from './daemon-process.js';
import { freePort } from './ports.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

export interface PrometheusOptions {
  /** `host:port` (path /metrics) or full `http://host:port/path` URLs. */
  scrapeTargets: string[];
  /** Prometheus duration, e.g. '1s'. */
  scrapeInterval: string;
  readyTimeoutMs?: number;
}

/** One sample of an instant vector. */
export interface PromSample {
  metric: Record<string, string>;
  /** [unix seconds, value as text] */
  value: [number, string];
}

export interface PromTarget {
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  labels: Record<string, string>;
}

export interface PrometheusInstance {
  readonly url: string;
  /** Instant query; throws on a query error. Returns the vector's samples. */
  query(promql: string): Promise<PromSample[]>;
  /** Poll `query` (bounded) until `accept` holds; returns the accepted result or throws with the last one. */
  waitFor(promql: string, accept: (r: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  /** Active scrape targets and their health. */
  targets(): Promise<PromTarget[]>;
  stop(): Promise<void>;
}

function scrapeJob(target: string, i: number): string {
  const u = /^https?:\/\//.test(target) ? new URL(target) : new URL(`http://${target}/metrics`);
  return [
    `  - job_name: target${i}`,
    `    scheme: ${u.protocol.slice(0, -1)}`,
    `    metrics_path: ${JSON.stringify(u.pathname)}`,
    `    static_configs:`,
    `      - targets: [${JSON.stringify(u.host)}]`,
  ].join('\n');
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusInstance> {
  requireBinary(PROMETHEUS_BIN, 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'talos-prom-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    [
      'global:',
      `  scrape_interval: ${opts.scrapeInterval}`,
      `  scrape_timeout: ${opts.scrapeInterval}`,
      `  evaluation_interval: ${opts.scrapeInterval}`,
      'scrape_configs:',
      ...opts.scrapeTargets.map(scrapeJob),
      '',
    ].join('\n'),
  );

  const daemonFor = (port: number): Daemon =>
    new Daemon({
      name: `prometheus :${port}`,
      binary: PROMETHEUS_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      readyUrl: `http://127.0.0.1:${port}/-/ready`,
      readyTimeoutMs: opts.readyTimeoutMs,
    });

  let port = await freePort();
  let daemon = daemonFor(port);
  for (let attempt = 1; ; attempt++) {
    try {
      await daemon.start();
      break;
    } catch (err) {
      if (attempt < 4 && portInUse(daemon.output)) {
        port = await freePort();
        daemon = daemonFor(port);
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const query = async (promql: string): Promise<PromSample[]> => {
    const data = await api<{ resultType: string; result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
    if (data.resultType !== 'vector') throw new Error(`expected a vector from ${promql}, got ${data.resultType}`);
    return data.result;
  };
  return {
    url,
    query,
    async waitFor(promql, accept, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      while (Date.now() < deadline) {
        last = await query(promql);
        if (accept(last)) return last;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`prometheus: ${promql} not as expected within ${timeoutMs}ms; last result ${JSON.stringify(last)}`);
    },
    async targets() {
      const data = await api<{ activeTargets: PromTarget[] }>('/api/v1/targets');
      return data.activeTargets;
    },
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `promtool check metrics` on `text` (stdin). ok = exit status 0 (no format errors, no lint problems). */
export function promtoolCheckMetrics(text: string): Promise<{ ok: boolean; output: string }> {
  requireBinary(PROMTOOL_BIN, 'prometheus');
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL_BIN, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, output: output.trim() });
    });
    child.stdin.on('error', () => undefined); // promtool may exit before reading everything
    child.stdin.end(text);
  });
}
