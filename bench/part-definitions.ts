/**
 * The benchmark's parts: each runs in a fresh process (see part-child.ts) and
 * returns its figures. A scenario is one or more parts; run.ts derives the
 * cross-part figures (the 200/2-rule ratio, RSS flatness).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCorpus } from './corpus.js';
import { fmt, median, percentile, rangeNote, type Figure } from './figures.js';
import { InProcessFeeder } from './in-process.js';
import { alertLatency, type LatencyStages } from './latency.js';
import { imageNodeArgs } from './cli-process.js';
import { memoryUnderLoad } from './memory.js';
import { mtailThroughput } from './mtail-peer.js';
import { profiled, type SelfTime } from './profiler.js';
import { pipelineRules, scaledRules, seedRules } from './rule-sets.js';
import { startBenchSidecar } from './sidecar.js';
import { startToReady } from './startup.js';
import { inProcessThroughput, mixCorpus, tcpThroughput, withLokiSink, type ThroughputOptions, type ThroughputResult } from './throughput.js';

/** Label suffix of the eager-decode variants (talos.lazy_decode: false; run.ts derives their own rule-scaling ratio from it). */
export const EAGER_LABEL = 'lazy decode off';

export interface PartContext {
  quick: boolean;
}

export interface PartOutput {
  figures: Figure[];
  /** Top self-time functions, when profiled. */
  profile?: { file: string; top: SelfTime[] };
}

type Part = (ctx: PartContext) => Promise<PartOutput>;

function rounds(quick: boolean): Pick<ThroughputOptions, 'warmMs' | 'roundMs' | 'rounds' | 'corpusLines'> {
  return quick ? { warmMs: 700, roundMs: 1000, rounds: 3, corpusLines: 200_000 } : { warmMs: 1500, roundMs: 2000, rounds: 5, corpusLines: 400_000 };
}

function throughputNote(r: ThroughputResult, tcp: boolean): string {
  const parts = [rangeNote(r.rounds, 'lines/s')];
  parts.push(`${tcp ? 'sidecar process' : 'process'} CPU ${(r.cpu * 100).toFixed(0)} % of one core ⇒ ${fmt(r.median / Math.max(r.cpu, 0.01))} lines per CPU-second`);
  parts.push(`rule matches per line ${(r.matchRate * 100).toFixed(3)} %`);
  return parts.join('; ');
}

function lokiNote(r: ThroughputResult, tcp: boolean): string {
  return `${throughputNote(r, tcp)}; accepted by the pipeline ${fmt(median(r.accepted))} lines/s; ${fmt(r.lokiRequests)} pushes; ${fmt(r.lokiDropped)} lines dropped`;
}

export const PARTS: Record<string, Part> = {
  async '8:inproc'({ quick }) {
    const r = await inProcessThroughput({ ruleSet: await pipelineRules(), loki: false, ...rounds(quick) });
    return {
      figures: [{ scenario: 8, label: 'alert path in-process with LogQL pipelines (2 seed rules + `| json | level="error"` + `| logfmt | unwrap` quantile), one core', value: r.median, unit: 'lines/s', note: throughputNote(r, false) }],
    };
  },
  async '1:inproc'({ quick }) {
    const r = await inProcessThroughput({ ruleSet: await seedRules(), loki: false, ...rounds(quick) });
    return {
      figures: [{ scenario: 1, label: 'alert path in-process (64 KiB chunks → split → decode → 2 seed rules), one core', value: r.median, unit: 'lines/s', target: { cmp: '>=', value: 1_000_000 }, note: throughputNote(r, false) }],
    };
  },
  async '1:tcp'({ quick }) {
    const r = await tcpThroughput({ ruleSet: await seedRules(), loki: false, ...rounds(quick) });
    return {
      figures: [{ scenario: 1, label: 'alert path over TCP loopback (forked sender, 10 connections flat out → sidecar, 2 seed rules)', value: r.median, unit: 'lines/s', target: { cmp: '>=', value: 1_000_000 }, note: throughputNote(r, true) }],
    };
  },
  async '1:profile'({ quick }) {
    const corpus = buildCorpus(mixCorpus(rounds(quick).corpusLines));
    const sc = await startBenchSidecar({ ruleSet: await seedRules() });
    try {
      const feeder = new InProcessFeeder(sc, corpus);
      await feeder.pump(1000);
      const file = join(tmpdir(), `talos-bench-scenario1-${process.pid}.cpuprofile`);
      const { result, top } = await profiled(() => feeder.pump(quick ? 2000 : 5000), file);
      return {
        figures: [{ scenario: 1, label: 'alert path in-process under the profiler (slower: sampling every 200 µs)', value: result.linesPerSec, unit: 'lines/s' }],
        profile: { file, top },
      };
    } finally {
      await sc.close();
    }
  },
  async '2:inproc'({ quick }) {
    const r = await inProcessThroughput({ ruleSet: await seedRules(), loki: true, ...rounds(quick) });
    return {
      figures: [{ scenario: 2, label: 'alert path + Loki forwarding in-process (protobuf+snappy, structured metadata) to a discarding receiver', value: r.median, unit: 'lines/s', target: { cmp: '>=', value: 400_000 }, note: lokiNote(r, false) }],
    };
  },
  async '2:tcp'({ quick }) {
    const r = await tcpThroughput({ ruleSet: await seedRules(), loki: true, ...rounds(quick) });
    return {
      figures: [{ scenario: 2, label: 'alert path + Loki forwarding over TCP loopback (forked sender and forked receiver)', value: r.median, unit: 'lines/s', target: { cmp: '>=', value: 400_000 }, note: lokiNote(r, true) }],
    };
  },
  // Every record parsed (talos.lazy_decode: false); run.ts --eager-decode runs it after 1:inproc.
  async '1:inproc:eager'({ quick }) {
    const r = await inProcessThroughput({ ruleSet: await seedRules(), loki: false, lazyDecode: false, ...rounds(quick) });
    return {
      figures: [{ scenario: 1, label: `alert path in-process (64 KiB chunks → split → decode → 2 seed rules), one core, ${EAGER_LABEL}`, value: r.median, unit: 'lines/s', target: { cmp: '>=', value: 1_000_000 }, note: throughputNote(r, false) }],
    };
  },
  ...Object.fromEntries(
    [2, 50, 200].flatMap((n): Array<[string, Part]> =>
      [false, true].map((eager): [string, Part] => [
        `3:${n}${eager ? ':eager' : ''}`,
        async ({ quick }) => {
          const r = await inProcessThroughput({ ruleSet: await scaledRules(n), loki: false, lazyDecode: !eager, ...rounds(quick) });
          return { figures: [{ scenario: 3, label: `rule scaling: ${n} rules, in-process${eager ? `, ${EAGER_LABEL}` : ''}`, value: r.median, unit: 'lines/s', note: throughputNote(r, false) }] };
        },
      ]),
    ),
  ),
  async '4'({ quick }) {
    const r = await withLokiSink(true, (lokiUrl) => alertLatency({ probes: quick ? 100 : 300, warmupProbes: 5, intervalMs: 30, backgroundRate: 100_000, warmMs: quick ? 1500 : 3000, lokiUrl }));
    if (r.stages.length === 0) throw new Error(`no probe alert reached Alertmanager (${r.missing} missing, ${r.nonOk} non-200 answers)`);
    const held = r.stages.map((s) => s.toHeld);
    const pcts = (pick: (s: LatencyStages) => number): string => {
      const xs = r.stages.map(pick).filter((x) => !Number.isNaN(x));
      return xs.length === 0 ? 'n/a' : `${fmt(percentile(xs, 50))} / ${fmt(percentile(xs, 99))} / ${fmt(Math.max(...xs))}`;
    };
    const n = `${held.length} alerts${r.missing > 0 ? `, ${r.missing} never arrived` : ''}${r.nonOk > 0 ? `, ${r.nonOk} non-200 answers` : ''}`;
    const bg = `background ${fmt(r.backgroundRate)} lines/s processed while probing (sidecar process CPU ${(r.cpu * 100).toFixed(0)} %)`;
    const warm = `first ${r.warmup.length} (warm-up) alerts, not counted: ${r.warmup.map((x) => fmt(x)).join(', ')} ms`;
    const stages = `cumulative from the write, p50 / p99 / max ms: record reaches the ingest pipeline ${pcts((s) => s.toRecord)}; engine emits the alert ${pcts((s) => s.toAlert)}; POST received by the proxy ${pcts((s) => s.toPost)}; Alertmanager holds it ${pcts((s) => s.toHeld)}`;
    return {
      figures: [
        { scenario: 4, label: 'alert latency p50: failure line written → real Alertmanager holds the alert (Loki forwarding on)', value: percentile(held, 50), unit: 'ms', note: `${n}; ${bg}; ${warm}` },
        { scenario: 4, label: 'alert latency p99', value: percentile(held, 99), unit: 'ms', target: { cmp: '<', value: 5 }, note: stages },
        { scenario: 4, label: 'alert latency max', value: Math.max(...held), unit: 'ms' },
      ],
    };
  },
  ...Object.fromEntries(
    ([['base', 1], ['x10', 10]] as const).map(([name, factor]): [string, Part] => [
      `5:${name}`,
      async ({ quick }) => {
        const r = await withLokiSink(true, (lokiUrl) => memoryUnderLoad({ durationMs: quick ? 15_000 : 60_000, rate: 100_000, rules: 50, nodes: 41, burstsPer10k: 50 * factor, lokiUrl }));
        // RSS at each quarter of the run: flat means no upward trend over time either.
        const q = r.rssTrace.length / 4;
        const quarters = [1, 2, 3, 4].map((i) => r.rssTrace[Math.max(0, Math.round(i * q) - 1)]).filter((x): x is number => x !== undefined);
        const trace = r.rssTrace.length > 0 ? `RSS over the run ${fmt(Math.min(...r.rssTrace))}–${fmt(Math.max(...r.rssTrace))} MB, at each quarter ${quarters.map((x) => fmt(x)).join(' / ')} MB` : '';
        return {
          figures: [
            {
              scenario: 5,
              label: `RSS of the sidecar process (${['node', ...imageNodeArgs(), 'dist/cli.js run'].join(' ')}, as the image starts it; Loki forwarding on) after ${quick ? 15 : 60} s at 100k lines/s, 50 rules, ${factor === 1 ? 'base' : '10×'} match rate`,
              value: r.rssEndMb,
              unit: 'MB',
              target: { cmp: '<=', value: 120 },
              note: [
                `${fmt(r.rate)} lines/s processed`,
                `${r.streams} distinct streams`,
                `${50 * factor} failure bursts (1–4 kernel records each) per 10 000 lines ⇒ rule matches per line ${(r.matchRate * 100).toFixed(2)} %`,
                `${r.seriesInWindows} series in rule windows, ${r.alerts} alerts`,
                trace,
                `heap used at end ${fmt(r.heapEndMb)} MB (the ingest thread's)`,
                `Loki: ${fmt(r.lokiSent)} lines acknowledged during the run, ${fmt(r.lokiDropped)} dropped`,
              ].join('; '),
            },
            ...(factor === 1
              ? [{ scenario: 5, label: 'RSS ready and idle (same process, before traffic: 50 rules loaded, Loki thread running)', value: r.rssStartMb, unit: 'MB', target: { cmp: '<=' as const, value: 70 } }]
              : []),
          ],
        };
      },
    ]),
  ),
  async '6'({ quick }) {
    const r = await startToReady(quick ? 3 : 7);
    return {
      figures: [
        {
          scenario: 6,
          label: 'start to ready: spawn `node dist/cli.js run --rules rules/talos-kernel.yaml` → /readyz 200',
          value: median(r.readyMs),
          unit: 'ms',
          target: { cmp: '<=', value: 500 },
          note: [
            `median of ${r.readyMs.length}, range ${fmt(Math.min(...r.readyMs))}–${fmt(Math.max(...r.readyMs))} ms; bare \`node -e 0\` spawn → exit ${fmt(median(r.nodeBareMs))} ms`,
            `one start step by step: node boot ${fmt(r.breakdown.nodeBootMs)} ms, ${r.breakdown.steps.map(([what, ms]) => `${what} ${fmt(ms)} ms`).join(', ')}`,
          ].join('\n      '),
        },
      ],
    };
  },
};

/** Scenario 7: the sidecar's TCP alert path and mtail on the same traffic and patterns, in one run. */
export const PEER_PARTS: Record<string, Part> = {
  async '7:sidecar'({ quick }) {
    const r = await tcpThroughput({ ruleSet: await seedRules(), loki: false, ...rounds(quick) });
    return {
      figures: [{ scenario: 7, label: 'peer comparison: sidecar alert path over TCP (2 seed rules)', value: r.median, unit: 'lines/s', target: { cmp: '>=', value: 1_000_000 }, note: throughputNote(r, true) }],
    };
  },
  async '7:mtail'({ quick }) {
    const r = await mtailThroughput(quick ? 150_000 : 400_000);
    return {
      figures: [
        {
          scenario: 7,
          label: `peer comparison: mtail --one_shot on the same traffic, the seed's 2 patterns${r.pinned ? ', taskset -c 0' : ', GOMAXPROCS=1 (no taskset)'}`,
          value: r.linesPerSec,
          unit: 'lines/s',
          note: [
            `${fmt(r.lines)} lines in ${fmt(r.ms)} ms after ${fmt(r.startupMs)} ms of start-up (empty-file run, subtracted)`,
            `${fmt(r.linesPerCpuSec)} lines per CPU-second (start-up included)`,
            `counters btrfs ${r.counters.btrfs}, iscsi ${r.counters.iscsi} = lines of the corpus the patterns match`,
          ].join('; '),
        },
      ],
    };
  },
};
Object.assign(PARTS, PEER_PARTS);

/** Parts per scenario, in run order. */
export const SCENARIO_PARTS: Record<number, string[]> = {
  1: ['1:inproc', '1:tcp'],
  2: ['2:inproc', '2:tcp'],
  3: ['3:2', '3:50', '3:200'],
  4: ['4'],
  5: ['5:base', '5:x10'],
  6: ['6'],
  7: ['7:sidecar', '7:mtail'],
  8: ['1:inproc', '8:inproc'],
};
