/**
 * Alert latency under load: a forked sender keeps ~100 000 lines/s of
 * healthy background traffic flowing into the sidecar; a forked probe writes
 * BTRFS failure records, each from a new node address, and times each from
 * its socket write until the real Alertmanager (behind the probe's
 * timestamping proxy) has accepted the alert. The rule groups by host, so
 * every failure record is a new alert (see rule-sets.ts perHostSeedRules).
 */
import { startBenchAlertmanager } from './alertmanager.js';
import { BenchChild } from './child.js';
import type { ProbeCmd, ProbeEv } from './probe.js';
import { perHostSeedRules } from './rule-sets.js';
import { startBenchSidecar } from './sidecar.js';
import type { SenderCmd, SenderEv } from './tcp-sender.js';

export interface LatencyOptions {
  probes: number;
  intervalMs: number;
  backgroundRate: number;
  warmMs: number;
}

export interface LatencyResult {
  toHeld: number[];
  toPost: number[];
  missing: number;
  nonOk: number;
  /** Background lines/s the sidecar actually processed while probing. */
  backgroundRate: number;
  cpu: number;
}

export async function alertLatency(o: LatencyOptions): Promise<LatencyResult> {
  const am = await startBenchAlertmanager();
  const probe = new BenchChild<ProbeCmd, ProbeEv>('./probe.js');
  const bg = new BenchChild<SenderCmd, SenderEv>('./tcp-sender.js');
  try {
    probe.send({ cmd: 'proxy', alertmanagerUrl: am.url });
    const { url: proxyUrl } = await probe.next('proxy', 10_000);
    const sc = await startBenchSidecar({ ruleSet: await perHostSeedRules(), alertmanagerUrl: proxyUrl });
    try {
      bg.send({ cmd: 'prepare', port: sc.ingest.tcpPort, corpus: { lines: 300_000, nodes: 5, startTimeMs: Date.now(), ratePerSec: o.backgroundRate } });
      await bg.next('ready', 120_000);
      probe.send({ cmd: 'connect', port: sc.ingest.tcpPort, count: o.probes });
      await probe.next('connected', 30_000);
      const fireMs = o.probes * o.intervalMs;
      bg.send({ cmd: 'go', durationMs: o.warmMs + fireMs + 6_000, ratePerSec: o.backgroundRate });
      await new Promise((r) => setTimeout(r, o.warmMs));
      const a0 = sc.pipeline.accepted;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      probe.send({ cmd: 'fire', intervalMs: o.intervalMs, waitMs: 5_000 });
      const res = await probe.next('result', fireMs + 60_000);
      const c1 = process.cpuUsage(c0);
      const ms = performance.now() - t0;
      const backgroundRate = ((sc.pipeline.accepted - a0) / ms) * 1000;
      await bg.next('done', 30_000);
      return { toHeld: res.toHeld, toPost: res.toPost, missing: res.missing, nonOk: res.nonOk, backgroundRate, cpu: (c1.user + c1.system) / 1000 / ms };
    } finally {
      await sc.close();
    }
  } finally {
    await Promise.all([probe.stop(), bg.stop()]);
    await am.stop();
  }
}
