/**
 * Event-loop stalls of the real process (issue 16 part 9): the sidecar's own
 * monitorEventLoopDelay (event_loop_lag_max_seconds, scraped every 250 ms)
 * while (1) traffic at `rate` lines/s starts the moment it is ready, with the
 * seed and library rules loaded, then (2) a burst of random bytes arrives on
 * one connection. Prints the longest stall of each phase and how often the
 * 50 ms target was exceeded.
 *
 *   node dist-tools/bench/stalls.js [rate=10000] [seconds=10] [randomMiB=8]
 *   SIDECAR_CLI=/path/to/other/dist/cli.js …   (compare another build)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFrom } from './lib/connect-from.js';
import { httpGet, loadAverage, metricSum, startSidecarUnderTest, talosRecord } from './lib/alert-probe.js';
import { REPO_ROOT } from './rule-sets.js';

const rate = Number(process.argv[2] ?? 10_000);
const seconds = Number(process.argv[3] ?? 10);
const randomMiB = Number(process.argv[4] ?? 8);
const LAG = 'talos_alert_sidecar_event_loop_lag_max_seconds';

const PHRASES = ['kubelet: pod sync ok', 'containerd: task exit', 'BTRFS info (device sda): checksum ok', 'iscsid: connection 1:0 established', 'nvme nvme0: I/O 12 QID 3 timeout, aborting', 'eth0: link up'];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tas-stalls-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, '{}\n');
  const sut = await startSidecarUnderTest(`${REPO_ROOT}rules/talos-kernel.yaml`, config);
  const samples: Array<{ phase: string; ms: number }> = [];
  let phase = 'start-up traffic';
  const scrape = setInterval(() => void httpGet(sut.httpPort, '/metrics').then((r) => samples.push({ phase, ms: metricSum(r.body, LAG) * 1000 })), 250);

  // Phase 1: traffic from the moment of readiness, 20 nodes, paced in 10 ms slices.
  const nodes = await Promise.all(Array.from({ length: 20 }, (_, i) => connectFrom(sut.ingestPort, `127.0.2.${i + 1}`)));
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    const per: string[] = nodes.map(() => '');
    for (; sent < due; sent++) per[sent % nodes.length] += talosRecord(PHRASES[sent % PHRASES.length]!, sent % 3 === 0 ? undefined : 'kubelet');
    per.forEach((c, i) => c !== '' && nodes[i]!.write(c));
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 500));

  // Phase 2: a burst of random bytes (no newlines guaranteed) on one connection.
  phase = 'random-bytes burst';
  const junk = await connectFrom(sut.ingestPort, '127.0.3.1');
  for (let i = 0; i < randomMiB; i++) junk.write(randomBytes(1024 * 1024));
  junk.end();
  await new Promise((r) => setTimeout(r, 3000));
  clearInterval(scrape);
  for (const n of nodes) n.destroy();
  await sut.stop();
  rmSync(dir, { recursive: true, force: true });

  console.log(`stalls (sidecar's event-loop delay, max per 250 ms scrape), cli ${process.env.SIDECAR_CLI ?? 'this build'}`);
  for (const p of ['start-up traffic', 'random-bytes burst']) {
    const s = samples.filter((x) => x.phase === p).map((x) => x.ms);
    const first = s.slice(0, 8).map((x) => x.toFixed(0)).join(' ');
    console.log(`${p}: max ${Math.max(...s).toFixed(0)} ms, ${s.filter((x) => x > 50).length} of ${s.length} scrapes over 50 ms; first 2 s: ${first}`);
  }
  console.log(`traffic: ${rate} lines/s for ${seconds} s from 20 nodes; random burst ${randomMiB} MiB; load average ${loadAverage()}`);
  process.exit(0);
}

void main();
