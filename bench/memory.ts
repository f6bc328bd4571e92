/**
 * Memory under steady load, measured on the real process (`node dist/cli.js
 * run`, spawned): 50 rules (seed + library + generated), traffic from 41
 * simulated nodes (≈ 500 distinct streams), paced at 100 000 lines/s by a
 * forked sender for a fixed time, with failure bursts at a chosen rate (the
 * match rate). RSS is read from /proc every second. Rule windows are fixed
 * bucket rings per series, so 10× the match rate must not cost more memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForkedChild } from './lib/forked-child.js';
import { spawnCliSidecar } from './cli-process.js';
import { scaledRuleFiles } from './rule-sets.js';
import type { SenderCmd, SenderEv } from './tcp-sender.js';

export interface MemoryOptions {
  durationMs: number;
  rate: number;
  rules: number;
  /** Nodes in the simulated cluster (41 nodes ≈ 500 streams with the generator's mix). */
  nodes: number;
  /** Failure bursts per 10 000 lines (each 1–4 kernel records). */
  burstsPer10k: number;
  /** Node flags for the sidecar process (e.g. --max-semi-space-size). */
  nodeArgs?: string[];
  /** Forward every line to this Loki (a discarding receiver), as the memory target has it. */
  lokiUrl?: string;
}

export interface MemoryResult {
  rssStartMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  heapEndMb: number;
  /** RSS every second, MB. */
  rssTrace: number[];
  rate: number;
  /** Rule matches per received line. */
  matchRate: number;
  streams: number;
  seriesInWindows: number;
  alerts: number;
  /** Lines Loki acknowledged and lines dropped on the way, over the run (0 without Loki). */
  lokiSent: number;
  lokiDropped: number;
}

const MB = 1024 * 1024;
const P = 'talos_alert_sidecar_';

export async function memoryUnderLoad(o: MemoryOptions): Promise<MemoryResult> {
  const dir = mkdtempSync(join(tmpdir(), 'talos-bench-rules-'));
  const extraArgs = o.lokiUrl === undefined ? [] : ['--loki-url', o.lokiUrl];
  const sc = await spawnCliSidecar(await scaledRuleFiles(o.rules, dir), { nodeArgs: o.nodeArgs, extraArgs });
  const sender = new ForkedChild<SenderCmd, SenderEv>(new URL('./tcp-sender.js', import.meta.url));
  try {
    await sc.waitReady();
    // Five seconds of traffic, looped: timestamps stay inside every 5-minute window.
    const lines = o.rate * 5;
    sender.send({
      cmd: 'prepare',
      port: sc.ingestPort,
      corpus: { lines, nodes: o.nodes, startTimeMs: Date.now(), ratePerSec: o.rate, failureBursts: Math.round((lines / 10_000) * o.burstsPer10k) },
      countStreams: true,
    });
    const ready = await sender.next('ready', 180_000);
    const rssStart = await sc.rss();
    const l0 = await sc.metric(`${P}lines_received_total`);
    const s0 = await sc.metric(`${P}loki_lines_sent_total`);
    const m0 = await sc.metric(`${P}rule_matches_total`);
    const trace: number[] = [];
    const t0 = performance.now();
    sender.send({ cmd: 'go', durationMs: o.durationMs, ratePerSec: o.rate });
    const sampler = setInterval(() => void sc.rss().then((r) => trace.push(r / MB)), 1000);
    await sender.next('done', o.durationMs + 60_000);
    clearInterval(sampler);
    const rssEnd = await sc.rss();
    const ms = performance.now() - t0;
    // Let the sidecar read what is still in its socket buffers before counting.
    await new Promise((r) => setTimeout(r, 300));
    const received = (await sc.metric(`${P}lines_received_total`)) - l0;
    return {
      rssStartMb: rssStart / MB,
      rssEndMb: rssEnd / MB,
      rssMaxMb: Math.max(rssEnd / MB, ...trace),
      heapEndMb: (await sc.metric('nodejs_heap_size_used_bytes')) / MB,
      rssTrace: trace,
      rate: (received / ms) * 1000,
      matchRate: ((await sc.metric(`${P}rule_matches_total`)) - m0) / Math.max(1, received),
      streams: ready.streams,
      seriesInWindows: await sc.metric(`${P}rule_series`),
      alerts: await sc.metric(`${P}alerts`),
      lokiSent: (await sc.metric(`${P}loki_lines_sent_total`)) - s0,
      lokiDropped: await sc.metric(`${P}loki_dropped_lines_total`),
    };
  } finally {
    await sender.stop();
    await sc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
