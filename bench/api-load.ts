/**
 * Read-API load (issue 16 part 5), on the real process: 5 000 firing alerts
 * (one per stream), then `clients` pollers fetch /api/v1/alerts back to back
 * while honest alerts keep being raised. Prints answers served and refused
 * (429), answer size and time, answer builds, honest alert latency and
 * misses, and ingest of a steady background stream.
 *
 *   node dist-tools/bench/api-load.js [alerts=5000] [clients=50] [seconds=15]
 *   SIDECAR_CLI=/path/to/other/dist/cli.js …   (compare another build)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFrom } from './lib/connect-from.js';
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { HONEST_RULE, HonestProber, httpDrain, httpGet, loadAverage, metricSum, startSidecarUnderTest, talosRecord } from './lib/alert-probe.js';

const alerts = Number(process.argv[2] ?? 5000);
const clients = Number(process.argv[3] ?? 50);
const seconds = Number(process.argv[4] ?? 15);

interface PollResult {
  served: number;
  refused: number;
  bytes: number;
  times: number[];
}

/** Child process: `clients` pollers back to back for `seconds`; reports to the parent. */
async function poll(port: number, clients: number, seconds: number): Promise<void> {
  const r: PollResult = { served: 0, refused: 0, bytes: 0, times: [] };
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (performance.now() < end) {
        const a = await httpDrain(port, '/api/v1/alerts', agent);
        if (a.status === 200) {
          r.served++;
          r.bytes = a.bytes;
          r.times.push(a.ms);
        } else if (a.status === 429) {
          r.refused++;
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    }),
  );
  process.send!(r);
  process.exit(0);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tas-api-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    `groups:
  - name: many
    rules:
      - alert: ServiceError
        expr: count_over_time({job="talos-kernel"} |= "service error" [5m]) > 0
        annotations:
          summary: "{{ $labels.talos_service }} on {{ $labels.host }} logged an error"
${HONEST_RULE}`,
  );
  const config = join(dir, 'config.yaml');
  writeFileSync(config, '{}\n');
  const sut = await startSidecarUnderTest(rules, config);
  const feeder = await connectFrom(sut.ingestPort, '127.0.0.1');
  let chunk = '';
  for (let i = 0; i < alerts; i++) chunk += talosRecord('service error', `svc-${i}`);
  feeder.write(chunk);
  const deadline = performance.now() + 20_000;
  while (performance.now() < deadline && metricSum((await httpGet(sut.httpPort, '/metrics')).body, 'talos_alert_sidecar_alerts{alertname="ServiceError",state="firing"}') < alerts) await new Promise((r) => setTimeout(r, 100));

  // Background ingest: 2 000 lines/s that match nothing, counted by the sidecar.
  const before = metricSum((await httpGet(sut.httpPort, '/metrics')).body, 'talos_alert_sidecar_lines_received_total');
  const background = setInterval(() => {
    let c = '';
    for (let i = 0; i < 20; i++) c += talosRecord('routine line', 'kubelet');
    feeder.write(c);
  }, 10);
  const honest = new HonestProber(sut);
  honest.start(400);
  // The pollers run in their own process: draining ~1 MB answers must not starve this one's prober and feeder.
  const cpu0 = sut.cpuMs();
  const pollers = fork(fileURLToPath(import.meta.url), ['--poll', String(sut.httpPort), String(clients), String(seconds)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { served, refused, bytes, times } = await new Promise<PollResult>((resolve) => pollers.once('message', (m) => resolve(m as PollResult)));
  clearInterval(background);
  const cpu = sut.cpuMs() - cpu0;
  const h = await honest.finish(10_000);
  const m = (await httpGet(sut.httpPort, '/metrics')).body;
  const ingested = metricSum(m, 'talos_alert_sidecar_lines_received_total') - before;
  feeder.destroy();
  await sut.stop();
  rmSync(dir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  const f = (x: number): string => x.toFixed(0);
  console.log(`${alerts} firing alerts, ${clients} clients polling /api/v1/alerts for ${seconds} s (cli ${process.env.SIDECAR_CLI ?? 'this build'})`);
  console.log(`answers: ${served} served (${(bytes / 1e6).toFixed(2)} MB each, p50 ${f(times[Math.floor(times.length / 2)] ?? NaN)} ms, p99 ${f(times[Math.floor(times.length * 0.99)] ?? NaN)} ms), ${refused} refused with 429; answer builds: ${metricSum(m, 'talos_alert_sidecar_api_answer_builds_total')}`);
  console.log(`sidecar CPU while polled: ${f(cpu)} ms in ${seconds} s (${((cpu / (seconds * 1000)) * 100).toFixed(0)}% of a core), ${(cpu / Math.max(1, served)).toFixed(1)} ms per answer served`);
  console.log(`honest alerts: ${h.sent} sent, ${h.missing} missing after 10 s; latency p50 ${f(h.p50)} ms, p99 ${f(h.p99)} ms, max ${f(h.max)} ms`);
  console.log(`background ingest: ${f(ingested / seconds)} lines/s of 2000 offered; load average ${loadAverage()}`);
  process.exit(0);
}

if (process.argv[2] === '--poll') void poll(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
else void main();
