/**
 * Alert latency under load: a forked sender keeps ~100 000 lines/s of
 * healthy background traffic flowing into the sidecar; a forked probe writes
 * BTRFS failure records, each from a new node address, and times each from
 * its socket write until the real Alertmanager (behind the probe's
 * timestamping proxy) has accepted the alert. The rule groups by host, so
 * every failure record is a new alert (see rule-sets.ts perHostSeedRules).
 *
 * For the breakdown, this process (the sidecar's) also notes when each probe
 * record reached the ingest pipeline and when the engine emitted its alert,
 * on the same monotonic clock as the probe (clock.ts).
 */
import type { Sidecar } from '../src/app.js';
import { startBenchAlertmanager } from './alertmanager.js';
import { ForkedChild } from './lib/forked-child.js';
import { nowMs } from './clock.js';
import type { ProbeCmd, ProbeEv, ProbeSample } from './probe.js';
import { perHostSeedRules } from './rule-sets.js';
import { startBenchSidecar } from './sidecar.js';
import type { SenderCmd, SenderEv } from './tcp-sender.js';

export interface LatencyOptions {
  /** Measured probes (each a new alert). */
  probes: number;
  /** Probes sent first and reported apart (cold path: first alert, first Alertmanager connection). */
  warmupProbes: number;
  intervalMs: number;
  backgroundRate: number;
  warmMs: number;
  /** Forward every line to a (discarding) Loki meanwhile, as the latency target has it. */
  lokiUrl?: string;
}

/** One probe's path, ms from its write: NaN where a step was not observed. */
export interface LatencyStages {
  /** Record handed to the ingest pipeline (socket + kernel + event loop). */
  toRecord: number;
  /** The engine emitted the firing alert (decode, match, per-turn evaluation, templates). */
  toAlert: number;
  /** The alert POST was fully received by the proxy (notifier + HTTP). */
  toPost: number;
  /** Alertmanager answered 200 (proxy forward + Alertmanager). */
  toHeld: number;
}

export interface LatencyResult {
  stages: LatencyStages[];
  warmup: number[];
  missing: number;
  nonOk: number;
  /** Background lines/s the sidecar actually processed while probing. */
  backgroundRate: number;
  cpu: number;
}

/** Note, in the sidecar's process, when probe records arrive and their alerts are emitted. */
function instrument(sc: Sidecar): { recordAt: Map<string, number>; alertAt: Map<string, number> } {
  const recordAt = new Map<string, number>();
  const alertAt = new Map<string, number>();
  const pipeline = sc.pipeline;
  const record = pipeline.record.bind(pipeline);
  // Bench-only wrapper on this instance: one prefix test per line.
  pipeline.record = (text, peer, proto, receivedMs) => {
    if (peer.startsWith('127.20.') && !recordAt.has(peer)) recordAt.set(peer, nowMs());
    record(text, peer, proto, receivedMs);
  };
  sc.engine.onAlert((c) => {
    const host = c.alert.labels.host;
    if (c.kind === 'firing' && host !== undefined && !alertAt.has(host)) alertAt.set(host, nowMs());
  });
  return { recordAt, alertAt };
}

function stagesOf(s: ProbeSample, recordAt: Map<string, number>, alertAt: Map<string, number>): LatencyStages {
  const since = (t: number | undefined): number => (t === undefined || t === 0 ? NaN : t - s.wroteAt);
  return { toRecord: since(recordAt.get(s.host)), toAlert: since(alertAt.get(s.host)), toPost: since(s.postAt), toHeld: since(s.heldAt) };
}

export async function alertLatency(o: LatencyOptions): Promise<LatencyResult> {
  const am = await startBenchAlertmanager();
  const probe = new ForkedChild<ProbeCmd, ProbeEv>(new URL('./probe.js', import.meta.url));
  const bg = new ForkedChild<SenderCmd, SenderEv>(new URL('./tcp-sender.js', import.meta.url));
  try {
    probe.send({ cmd: 'proxy', alertmanagerUrl: am.url });
    const { url: proxyUrl } = await probe.next('proxy', 10_000);
    const sc = await startBenchSidecar({ ruleSet: await perHostSeedRules(), alertmanagerUrl: proxyUrl, lokiUrl: o.lokiUrl });
    try {
      const { recordAt, alertAt } = instrument(sc);
      bg.send({ cmd: 'prepare', port: sc.ingest.tcpPort, corpus: { lines: 300_000, nodes: 5, startTimeMs: Date.now(), ratePerSec: o.backgroundRate } });
      await bg.next('ready', 120_000);
      probe.send({ cmd: 'connect', port: sc.ingest.tcpPort, count: o.warmupProbes + o.probes });
      await probe.next('connected', 30_000);
      const fireMs = (o.warmupProbes + o.probes) * o.intervalMs;
      bg.send({ cmd: 'go', durationMs: o.warmMs + fireMs + 6_000, ratePerSec: o.backgroundRate });
      await new Promise((r) => setTimeout(r, o.warmMs));
      const a0 = sc.pipeline.accepted;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      probe.send({ cmd: 'fire', intervalMs: o.intervalMs, waitMs: 5_000, warmup: o.warmupProbes });
      const res = await probe.next('result', fireMs + 60_000);
      const c1 = process.cpuUsage(c0);
      const ms = performance.now() - t0;
      const backgroundRate = ((sc.pipeline.accepted - a0) / ms) * 1000;
      await bg.next('done', 30_000);
      const done = res.samples.filter((s) => s.heldAt > 0);
      return {
        stages: done.map((s) => stagesOf(s, recordAt, alertAt)),
        warmup: res.warmup.map((s) => (s.heldAt > 0 ? s.heldAt - s.wroteAt : NaN)),
        missing: res.samples.length - done.length,
        nonOk: res.nonOk,
        backgroundRate,
        cpu: (c1.user + c1.system) / 1000 / ms,
      };
    } finally {
      await sc.close();
    }
  } finally {
    await Promise.all([probe.stop(), bg.stop()]);
    await am.stop();
  }
}
