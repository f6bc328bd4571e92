/**
 * Lines per second through the sidecar, two ways:
 *
 * - in-process: corpus chunks → LineSplitter → IngestPipeline (decode, bus,
 *   rules[, Loki]) in this process, no sockets (see in-process.ts);
 * - TCP: a forked sender writes the same kind of corpus flat out over
 *   loopback; the sidecar (this process, one event loop, so one core) reads,
 *   and its pipeline counter says how many lines it processed per second.
 *
 * Both warm up first (JIT, windows, label caches), then measure rounds and
 * report the median. With Loki on, the figure is lines Loki accepted
 * (`loki_lines_sent_total`) per second, so a pusher that falls behind shows.
 */
import type { Sidecar } from '../src/app.js';
import type { Config } from '../src/config/schema.js';
import type { RuleSet } from '../src/rules/rule-file.js';
import { ForkedChild } from './lib/forked-child.js';
import { buildCorpus, type CorpusOptions } from './corpus.js';
import { median } from './figures.js';
import { InProcessFeeder } from './in-process.js';
import type { LokiSinkCmd, LokiSinkEv } from './loki-sink.js';
import { counterValue, ruleMatches, startBenchSidecar } from './sidecar.js';
import type { SenderCmd, SenderEv } from './tcp-sender.js';

export interface ThroughputOptions {
  ruleSet: RuleSet;
  loki: boolean;
  warmMs: number;
  roundMs: number;
  rounds: number;
  corpusLines: number;
  /** talos.lazy_decode (default: the product default, on: records no rule can match skip JSON.parse). */
  lazyDecode?: boolean;
}

export interface ThroughputResult {
  /** Lines/s per round: processed (no Loki) or delivered to Loki. */
  rounds: number[];
  median: number;
  /** Lines/s the pipeline accepted per round (equals rounds without Loki). */
  accepted: number[];
  /** Process CPU time / wall time over the measured rounds (1 = one core busy). */
  cpu: number;
  /** Rule matches per accepted line over the measured rounds (a line matching two rules counts twice). */
  matchRate: number;
  lokiDropped: number;
  lokiRequests: number;
}

const LOKI_SENT = 'talos_alert_sidecar_loki_lines_sent_total';
const LOKI_DROPPED = 'talos_alert_sidecar_loki_dropped_lines_total';

/** The traffic mix every throughput figure uses: 5 nodes, 30 % kernel lines, a failure burst every 10 000 lines. */
export function mixCorpus(lines: number): CorpusOptions {
  return { lines, nodes: 5, startTimeMs: Date.now(), failureBursts: Math.round(lines / 10_000) };
}

/** Runs `fn` with the URL of a forked discarding Loki receiver (loki-sink.ts), or undefined when `on` is false. */
export async function withLokiSink<T>(on: boolean, fn: (url: string | undefined) => Promise<T>): Promise<T> {
  if (!on) return fn(undefined);
  const sink = new ForkedChild<LokiSinkCmd, LokiSinkEv>(new URL('./loki-sink.js', import.meta.url));
  try {
    const { url } = await sink.next('listening', 10_000);
    return await fn(url);
  } finally {
    await sink.stop();
  }
}

function lazyDecode(o: ThroughputOptions): ((cfg: Config) => void) | undefined {
  const on = o.lazyDecode;
  return on === undefined ? undefined : (cfg) => (cfg.talos.lazyDecode = on);
}

interface Sample {
  atMs: number;
  accepted: number;
  sent: number;
  matches: number;
  cpuUs: number;
}

async function sample(sc: Sidecar, loki: boolean): Promise<Sample> {
  const cpu = process.cpuUsage();
  return {
    atMs: performance.now(),
    accepted: sc.pipeline.accepted,
    sent: loki ? await counterValue(sc, LOKI_SENT) : 0,
    matches: ruleMatches(sc),
    cpuUs: cpu.user + cpu.system,
  };
}

function summarise(samples: Sample[], loki: boolean, dropped: number, requests: number): ThroughputResult {
  const rounds: number[] = [];
  const accepted: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const s = (b.atMs - a.atMs) / 1000;
    accepted.push((b.accepted - a.accepted) / s);
    rounds.push(loki ? (b.sent - a.sent) / s : (b.accepted - a.accepted) / s);
  }
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  return {
    rounds,
    median: median(rounds),
    accepted,
    cpu: (last.cpuUs - first.cpuUs) / 1000 / (last.atMs - first.atMs),
    matchRate: (last.matches - first.matches) / Math.max(1, last.accepted - first.accepted),
    lokiDropped: dropped,
    lokiRequests: requests,
  };
}

export async function inProcessThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const corpus = buildCorpus(mixCorpus(o.corpusLines));
  return withLokiSink(o.loki, async (lokiUrl) => {
    const sc = await startBenchSidecar({ ruleSet: o.ruleSet, lokiUrl, configure: lazyDecode(o) });
    try {
      const feeder = new InProcessFeeder(sc, corpus);
      await feeder.pump(o.warmMs);
      const samples = [await sample(sc, o.loki)];
      for (let r = 0; r < o.rounds; r++) {
        await feeder.pump(o.roundMs);
        // Let the last sealed batch reach Loki before reading the counter.
        if (o.loki) await new Promise((r2) => setTimeout(r2, 20));
        samples.push(await sample(sc, o.loki));
      }
      const dropped = o.loki ? await counterValue(sc, LOKI_DROPPED) : 0;
      const requests = o.loki ? await counterValue(sc, 'talos_alert_sidecar_loki_batches_sent_total') : 0;
      return summarise(samples, o.loki, dropped, requests);
    } finally {
      await sc.close();
    }
  });
}

export async function tcpThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  return withLokiSink(o.loki, async (lokiUrl) => {
    const sc = await startBenchSidecar({ ruleSet: o.ruleSet, lokiUrl, configure: lazyDecode(o) });
    const sender = new ForkedChild<SenderCmd, SenderEv>(new URL('./tcp-sender.js', import.meta.url));
    try {
      sender.send({ cmd: 'prepare', port: sc.ingest.tcpPort, corpus: mixCorpus(o.corpusLines) });
      await sender.next('ready', 120_000);
      const total = o.warmMs + o.rounds * o.roundMs + 500;
      sender.send({ cmd: 'go', durationMs: total, ratePerSec: 0 });
      await new Promise((r) => setTimeout(r, o.warmMs));
      const samples = [await sample(sc, o.loki)];
      for (let r = 0; r < o.rounds; r++) {
        await new Promise((r2) => setTimeout(r2, o.roundMs));
        samples.push(await sample(sc, o.loki));
      }
      await sender.next('done', total + 60_000);
      const dropped = o.loki ? await counterValue(sc, LOKI_DROPPED) : 0;
      const requests = o.loki ? await counterValue(sc, 'talos_alert_sidecar_loki_batches_sent_total') : 0;
      return summarise(samples, o.loki, dropped, requests);
    } finally {
      await sender.stop();
      await sc.close();
    }
  });
}
