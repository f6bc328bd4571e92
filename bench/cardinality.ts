/**
 * Cardinality attack (issue 16 part 4), on the real process: one peer inside
 * the allowed network sends lines that match a rule, each with a new
 * `talos-service` (one new rule series per line), while honest lines from
 * other nodes must keep alerting. Prints series held and dropped, RSS and JS
 * heap during the attack and after the windows expired, the latency of every
 * honest alert (line sent → POST received by a stand-in Alertmanager) and the
 * longest event-loop stall the sidecar saw.
 *
 *   node dist-tools/bench/cardinality.js [series=100000] [rate=10000] [range=20s]
 *   SIDECAR_CLI=/path/to/other/dist/cli.js …   (compare another build)
 *   ATTACK_BY=talos_service …   (the attacked rule alerts per series: one alert per attack series)
 *   SKIP_EXPIRY=1 … 100000 10000 300s   (5m windows as the seed rules; no wait for expiry)
 *   EXTRA_CONFIG='rules: {max_series_per_rule: 0, max_window_memory: 0}' …  (no limits)
 *
 * Bounded to about 60 s: attack for series/rate s, then wait out the range.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFrom } from './lib/connect-from.js';
import { HONEST_RULE, HonestProber, httpGet, loadAverage, metricSum, startSidecarUnderTest, talosRecord } from './lib/alert-probe.js';

const MB = 1024 * 1024;
const series = Number(process.argv[2] ?? 100_000);
const rate = Number(process.argv[3] ?? 10_000);
const range = process.argv[4] ?? '20s';
const rangeMs = Number(range.replace(/s$/, '')) * 1000;
const attackBy = process.env.ATTACK_BY ? ` by (${process.env.ATTACK_BY})` : '';

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
${HONEST_RULE}`,
  );
  const config = join(dir, 'config.yaml');
  writeFileSync(config, process.env.EXTRA_CONFIG ?? '{}\n');
  const sut = await startSidecarUnderTest(rules, config);
  const rssStart = sut.rss();
  const honest = new HonestProber(sut);
  honest.start(250);

  const attacker = await connectFrom(sut.ingestPort, '127.0.0.1');
  const t0 = performance.now();
  let n = 0;
  let rssPeak = rssStart;
  let healthMax = 0;
  let lagMax = 0;
  const healthProbe = setInterval(() => void httpGet(sut.httpPort, '/healthz').then((r) => (healthMax = Math.max(healthMax, r.ms))), 200);
  const lagProbe = setInterval(() => void httpGet(sut.httpPort, '/metrics').then((r) => (lagMax = Math.max(lagMax, metricSum(r.body, 'talos_alert_sidecar_event_loop_lag_max_seconds')))), 1000);
  // `series` lines, each a new talos-service, paced at `rate` lines/s in 10 ms slices.
  while (n < series) {
    const due = Math.min(series, Math.floor(((performance.now() - t0) / 1000) * rate));
    let chunk = '';
    for (; n < due; n++) chunk += talosRecord(`iscsi connection ${n} error`, `attack-${n}`);
    if (chunk !== '' && !attacker.write(chunk)) await new Promise((r) => attacker.once('drain', r));
    rssPeak = Math.max(rssPeak, sut.rss());
    await new Promise((r) => setTimeout(r, 10));
  }
  attacker.end();
  const attackSec = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  const m1 = (await httpGet(sut.httpPort, '/metrics')).body;
  rssPeak = Math.max(rssPeak, sut.rss());
  const h = await honest.finish(10_000);

  // Windows expire `range` after the last attack line; the timer frees them.
  // SKIP_EXPIRY=1: stop here (for long ranges such as 300s, which the 60 s bench bound cannot wait out).
  const expireAt = process.env.SKIP_EXPIRY === '1' ? 0 : t0 + attackSec * 1000 + rangeMs + 3000;
  while (performance.now() < expireAt) await new Promise((r) => setTimeout(r, 200));
  const m2 = (await httpGet(sut.httpPort, '/metrics')).body;
  const rssAfter = sut.rss();
  if (process.env.SNAPSHOT_AFTER === '1') {
    // With SIDECAR_NODE_ARGS=--heapsnapshot-signal=SIGUSR2: what is still held after expiry.
    sut.proc.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 8000));
  }
  clearInterval(healthProbe);
  clearInterval(lagProbe);
  await sut.stop();
  rmSync(dir, { recursive: true, force: true });

  const f = (x: number): string => x.toFixed(0);
  const m = (t: string, name: string): number => metricSum(t, `talos_alert_sidecar_${name}`);
  console.log(`attack: ${series} new series in ${attackSec.toFixed(1)} s (${f(series / attackSec)} lines/s), range ${range}, attacked rule sum${attackBy}(…), cli ${process.env.SIDECAR_CLI ?? 'this build'}`);
  console.log(`series held at end of attack: ${m(m1, 'rule_series')}; lines dropped by the series budget: ${m(m1, 'rule_series_dropped_total')}; window memory ${(m(m1, 'rule_window_memory_bytes') / MB).toFixed(1)} MB`);
  console.log(`RSS: start ${f(rssStart / MB)} MB, peak ${f(rssPeak / MB)} MB, ${process.env.SKIP_EXPIRY === '1' ? 'at end (no wait for expiry)' : 'after windows expired'} ${f(rssAfter / MB)} MB (series held then: ${m(m2, 'rule_series')}, window memory ${(m(m2, 'rule_window_memory_bytes') / MB).toFixed(2)} MB, JS heap used ${f(metricSum(m2, 'nodejs_heap_size_used_bytes') / MB)} MB, alerts held ${m(m2, 'alerts')})`);
  console.log(`honest alerts: ${h.sent} sent, ${h.missing} missing after 10 s; latency p50 ${f(h.p50)} ms, p99 ${f(h.p99)} ms, max ${f(h.max)} ms`);
  console.log(`slowest /healthz: ${f(healthMax)} ms; longest event-loop stall seen by the sidecar: ${f(lagMax * 1000)} ms; load average ${loadAverage()}`);
  process.exit(0);
}

void main();
