/**
 * Cardinality attack (issue 16 part 4), on the real process: one peer inside
 * the allowed network sends lines that match a rule, each with a new
 * `talos-service` (one new rule series per line), while honest lines from
 * other nodes (one loopback address each) must keep alerting. Prints series
 * held, series dropped, RSS during the attack and after the windows expired,
 * and the latency of every honest alert (line sent → POST received by a
 * stand-in Alertmanager), with how many never arrived.
 *
 *   node dist-tools/bench/cardinality.js [series=100000] [rate=10000] [range=20s]
 *   SIDECAR_CLI=/path/to/old/dist/cli.js …   (compare another build)
 *   ATTACK_BY=talos_service …   (the attacked rule alerts per series: 1 alert per attack series)
 *   EXTRA_CONFIG='rules: {max_series_per_rule: 0, max_window_memory: 0}' …  (no limits)
 *
 * Bounded to about 60 s: attack for series/rate s, then wait out the range.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFrom } from './lib/connect-from.js';
import { freePort } from './lib/free-port.js';
import { reapOnExit } from './reaper.js';
import { REPO_ROOT } from './rule-sets.js';

const MB = 1024 * 1024;
const series = Number(process.argv[2] ?? 100_000);
const rate = Number(process.argv[3] ?? 10_000);
const range = process.argv[4] ?? '20s';
const rangeMs = Number(range.replace(/s$/, '')) * 1000;
/** ATTACK_BY=talos_service: one alert per attack series (harsher than the seed rules' plain sum()). */
const attackBy = process.env.ATTACK_BY ? ` by (${process.env.ATTACK_BY})` : '';
const cli = process.env.SIDECAR_CLI ?? `${REPO_ROOT}dist/cli.js`;

const rec = (msg: string, service: string | undefined): string =>
  `${JSON.stringify({ msg, 'talos-level': 'error', 'talos-time': new Date().toISOString(), ...(service === undefined ? {} : { 'talos-service': service }) })}\n`;

function get(port: number, path: string): Promise<{ ms: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 30_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ ms: performance.now() - t0, body }));
      })
      .on('error', () => resolve({ ms: performance.now() - t0, body: '' }));
  });
}

const metric = (text: string, name: string): number => {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tas-card-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    `groups:
  - name: attack
    rules:
      - alert: ISCSIError
        expr: sum${attackBy} (count_over_time({job="talos-kernel"} |~ "(?i)iscsi.*error" [${range}])) > 0
  - name: honest
    rules:
      - alert: DiskFailure
        expr: sum by (host) (count_over_time({job="talos-kernel"} |= "honest disk failure" [${range}])) > 0
`,
  );
  const config = join(dir, 'config.yaml');
  writeFileSync(config, process.env.EXTRA_CONFIG ?? '{}\n');

  // Stand-in Alertmanager: when did each honest host's alert first arrive?
  const arrived = new Map<string, number>();
  const am = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const now = performance.now();
      try {
        for (const a of JSON.parse(body) as Array<{ labels: Record<string, string> }>) {
          if (a.labels.alertname === 'DiskFailure' && !arrived.has(a.labels.host!)) arrived.set(a.labels.host!, now);
        }
      } catch {
        // not ours
      }
      res.writeHead(200).end('{}');
    });
  });
  const amPort = await freePort();
  await new Promise<void>((r) => am.listen(amPort, '127.0.0.1', r));

  const [httpPort, ingestPort] = [await freePort(), await freePort()];
  const nodeArgs = (process.env.SIDECAR_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const proc = spawn(process.execPath, [...nodeArgs, cli, 'run', '--config', config, '--rules', rules, '--listen', `127.0.0.1:${ingestPort}`, '--http-listen', `127.0.0.1:${httpPort}`, '--alertmanager-url', `http://127.0.0.1:${amPort}`, '--log-level', 'error'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  reapOnExit(proc);
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) * 1024;
  for (let i = 0; i < 500 && (await get(httpPort, '/readyz')).body !== 'ready\n' && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 20));
  const rssStart = rss();

  // Honest nodes: one line every 250 ms, each from a new loopback address (a new host).
  const sent = new Map<string, number>();
  const honestSockets: net.Socket[] = [];
  let honestN = 0;
  const honest = setInterval(() => {
    const host = `127.0.1.${++honestN}`;
    void connectFrom(ingestPort, host).then((s) => {
      honestSockets.push(s);
      sent.set(host, performance.now());
      s.end(rec('honest disk failure on sda', undefined));
    });
  }, 250);

  // The attacker: `series` lines, each a new talos-service, paced at `rate` lines/s in 10 ms slices.
  const attacker = await connectFrom(ingestPort, '127.0.0.1');
  const t0 = performance.now();
  let n = 0;
  let rssPeak = rssStart;
  let healthMax = 0;
  let lagMax = 0;
  const healthProbe = setInterval(() => void get(httpPort, '/healthz').then((r) => (healthMax = Math.max(healthMax, r.ms))), 200);
  const lagProbe = setInterval(() => void get(httpPort, '/metrics').then((r) => (lagMax = Math.max(lagMax, metric(r.body, 'talos_alert_sidecar_event_loop_lag_max_seconds')))), 1000);
  while (n < series) {
    const due = Math.min(series, Math.floor(((performance.now() - t0) / 1000) * rate));
    let chunk = '';
    for (; n < due; n++) chunk += rec(`iscsi connection ${n} error`, `attack-${n}`);
    if (chunk !== '' && !attacker.write(chunk)) await new Promise((r) => attacker.once('drain', r));
    rssPeak = Math.max(rssPeak, rss());
    await new Promise((r) => setTimeout(r, 10));
  }
  attacker.end();
  const attackSec = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(honest);
  const m1 = (await get(httpPort, '/metrics')).body;
  rssPeak = Math.max(rssPeak, rss());
  const held = metric(m1, 'talos_alert_sidecar_rule_series');
  const dropped = metric(m1, 'talos_alert_sidecar_rule_series_dropped_total');
  const windowBytes = metric(m1, 'talos_alert_sidecar_rule_window_memory_bytes');

  // Latency of every honest alert (wait up to 10 s for stragglers).
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline && [...sent.keys()].some((h) => !arrived.has(h))) await new Promise((r) => setTimeout(r, 50));
  const lat = [...sent].filter(([h]) => arrived.has(h)).map(([h, at]) => arrived.get(h)! - at).sort((a, b) => a - b);
  const missing = sent.size - lat.length;
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;

  // Windows expire `range` after the last attack line; the timer frees them.
  const expireAt = t0 + attackSec * 1000 + rangeMs + 3000;
  while (performance.now() < expireAt) await new Promise((r) => setTimeout(r, 200));
  const m2 = (await get(httpPort, '/metrics')).body;
  if (process.env.SNAPSHOT_AFTER === '1') {
    // With SIDECAR_NODE_ARGS=--heapsnapshot-signal=SIGUSR2: what is still held after expiry.
    proc.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 8000));
  }
  const rssAfter = rss();
  clearInterval(healthProbe);
  clearInterval(lagProbe);
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  am.close();
  for (const s of honestSockets) s.destroy();
  rmSync(dir, { recursive: true, force: true });

  const f = (x: number): string => x.toFixed(0);
  console.log(`attack: ${series} new series in ${attackSec.toFixed(1)} s (${f(series / attackSec)} lines/s), range ${range}, attacked rule sum${attackBy}(…), cli ${cli}`);
  console.log(`series held at end of attack: ${held}; dropped lines: ${dropped}; window memory: ${(windowBytes / MB).toFixed(1)} MB`);
  console.log(`RSS: start ${f(rssStart / MB)} MB, peak ${f(rssPeak / MB)} MB, after windows expired ${f(rssAfter / MB)} MB (series held then: ${metric(m2, 'talos_alert_sidecar_rule_series')}, window memory ${(metric(m2, 'talos_alert_sidecar_rule_window_memory_bytes') / MB).toFixed(2)} MB, JS heap used ${f(metric(m2, 'nodejs_heap_size_used_bytes') / MB)} MB, alerts held ${metric(m2, 'talos_alert_sidecar_alerts')})`);
  console.log(`honest alerts: ${sent.size} sent, ${missing} missing after 10 s; latency p50 ${f(pct(50))} ms, p99 ${f(pct(99))} ms, max ${f(lat[lat.length - 1] ?? NaN)} ms`);
  console.log(`slowest /healthz during the run: ${f(healthMax)} ms; longest event-loop stall seen by the sidecar: ${f(lagMax * 1000)} ms; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  process.exit(0);
}

void main();
