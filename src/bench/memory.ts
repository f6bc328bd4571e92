/**
 * Memory under steady load: 50 rules, traffic from enough nodes to make ~500
 * distinct streams, paced at 100 000 lines/s by a forked sender for a fixed
 * time, with failure bursts at a chosen rate (the match rate). RSS is this
 * process's — the sidecar's — sampled every second. Rule windows are fixed
 * bucket rings per series, so 10× the match rate must not cost more memory.
 */
import { BenchChild } from './child.js';
import { scaledRules } from './rule-sets.js';
import { ruleMatches, ruleSeries, startBenchSidecar } from './sidecar.js';
import type { SenderCmd, SenderEv } from './tcp-sender.js';

export interface MemoryOptions {
  durationMs: number;
  rate: number;
  rules: number;
  /** Nodes in the simulated cluster (41 nodes ≈ 500 streams with the generator's mix). */
  nodes: number;
  /** Failure bursts per 10 000 lines (each 1–4 kernel records). */
  burstsPer10k: number;
}

export interface MemoryResult {
  rssStartMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  heapEndMb: number;
  /** RSS every second, MB. */
  rssTrace: number[];
  accepted: number;
  rate: number;
  /** Rule matches per accepted line. */
  matchRate: number;
  /** Lines from injected failure bursts per line sent (corpus share). */
  failureShare: number;
  streams: number;
  seriesInWindows: number;
  alerts: number;
}

const MB = 1024 * 1024;

export async function memoryUnderLoad(o: MemoryOptions): Promise<MemoryResult> {
  const sc = await startBenchSidecar({ ruleSet: await scaledRules(o.rules) });
  const sender = new BenchChild<SenderCmd, SenderEv>('./tcp-sender.js');
  try {
    // Five seconds of traffic, looped: timestamps stay inside every 5-minute window.
    const lines = o.rate * 5;
    sender.send({
      cmd: 'prepare',
      port: sc.ingest.tcpPort,
      corpus: { lines, nodes: o.nodes, startTimeMs: Date.now(), ratePerSec: o.rate, failureBursts: Math.round((lines / 10_000) * o.burstsPer10k) },
      countStreams: true,
    });
    const ready = await sender.next('ready', 180_000);
    const rssStart = process.memoryUsage.rss();
    const trace: number[] = [];
    const a0 = sc.pipeline.accepted;
    const m0 = ruleMatches(sc);
    const t0 = performance.now();
    sender.send({ cmd: 'go', durationMs: o.durationMs, ratePerSec: o.rate });
    const sampler = setInterval(() => trace.push(process.memoryUsage.rss() / MB), 1000);
    await sender.next('done', o.durationMs + 60_000);
    clearInterval(sampler);
    const ms = performance.now() - t0;
    const mem = process.memoryUsage();
    const accepted = sc.pipeline.accepted - a0;
    return {
      rssStartMb: rssStart / MB,
      rssEndMb: mem.rss / MB,
      rssMaxMb: Math.max(mem.rss / MB, ...trace),
      heapEndMb: mem.heapUsed / MB,
      rssTrace: trace,
      accepted,
      rate: (accepted / ms) * 1000,
      matchRate: (ruleMatches(sc) - m0) / Math.max(1, accepted),
      failureShare: ready.failureLines / ready.lines,
      streams: ready.streams,
      seriesInWindows: ruleSeries(sc),
      alerts: sc.engine.alerts().length,
    };
  } finally {
    await sender.stop();
    await sc.close();
  }
}
