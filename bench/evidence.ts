/**
 * Evidence (issue #18) cost on the alert path: the rule engine fed lines that
 * all match alerting rules (so every line updates a window and a firing
 * alert), with evidence off and on, each in its own process for a clean RSS.
 *
 *   npm run build:tools && node --expose-gc dist-tools/bench/evidence.js [time bound per run, s, default and at most 12; four runs of 40 000 lines]
 *
 * Per mode: lines/s through ingest + per-chunk evaluation (100 lines a chunk,
 * as a socket read delivers them), heap used after GC and RSS at the end,
 * and how many evidence rings the rules hold.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RuleEngine } from '../src/rules/engine.js';
import { LabelSetCache, type LogEvent } from '../src/log-event.js';
import { parseRuleFile } from '../src/rules/load.js';

const RULES = `groups:
  - name: bench
    rules:
      - alert: ErrorsPerHost
        expr: 'sum by (host) (count_over_time({job="talos-kernel"} |= "error" [5m])) > 0'
        annotations: { summary: '{{ $labels.host }}' }
      - alert: IOErrorPerStream
        expr: 'count_over_time({job="talos-kernel"} |~ "(?i)i/o error" [1m]) > 0'
      - alert: BadUnits
        expr: 'sum by (unit) (count_over_time({job="talos-kernel"} | logfmt | sev="bad" [5m])) > 0'
`;

const HOSTS = 200;
const SERVICES = 5;
const CHUNK = 100;
/** Every run processes the same lines (unless its time bound ends it first). */
const LINES_PER_RUN = 40_000;

interface Figures {
  mode: string;
  lines: number;
  linesPerSec: number;
  /** Lines per second of this process's CPU time: steadier than wall time on a shared machine. */
  linesPerCpuSec: number;
  heapUsedMiB: number;
  rssMiB: number;
  evidenceRings: number;
  alerts: number;
}

function runMode(evidenceOn: boolean, seconds: number, maxLines: number): Figures {
  let clock = Date.UTC(2026, 0, 1);
  const engine = new RuleEngine({
    tickMs: 1000,
    resolvedRetentionMs: 15 * 60_000,
    externalLabels: {},
    externalUrl: '',
    now: () => clock,
    autoFlush: false,
    evidence: evidenceOn ? { maxLines: 3, maxLineBytes: 512, annotation: 'log_lines' } : undefined,
  });
  const parsed = parseRuleFile('bench.yaml', RULES, { unsupported: 'error' });
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  engine.load({ groups: parsed.groups, skipped: parsed.skipped, files: ['bench.yaml'] });
  const sets = new LabelSetCache();
  const streams = Array.from({ length: HOSTS * SERVICES }, (_, i) =>
    sets.intern({ job: 'talos-kernel', host: `node-${i % HOSTS}`, talos_service: `svc-${Math.floor(i / HOSTS)}`, level: 'error' }),
  );
  let n = 0;
  let nextTick = clock + 1000;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline && n < maxLines) {
    for (let i = 0; i < CHUNK; i++, n++) {
      // A fresh string per line, as the decoder makes one: evidence keeps references only.
      const line = `ts=${n} unit=u${n % 17} sev=${n % 3 === 0 ? 'bad' : 'ok'} blk_update_request: I/O error, dev sda, sector ${n * 8} op 0x0:(READ)`;
      const ev: LogEvent = { timeMs: clock, timeNsRem: 0, receivedMs: clock, line, stream: streams[n % streams.length]!, metadata: undefined, source: 'kernel' };
      engine.ingest(ev);
    }
    engine.flush();
    clock += 25; // 4 000 lines per simulated second: 40 000 lines span 10 timer ticks
    if (clock >= nextTick) {
      engine.tick();
      nextTick += 1000;
    }
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  return {
    mode: evidenceOn ? 'evidence on (3 lines, 512 B)' : 'evidence off',
    lines: n,
    linesPerSec: Math.round((n / ms) * 1000),
    linesPerCpuSec: Math.round((n / cpuMs) * 1000),
    heapUsedMiB: +(mem.heapUsed / 2 ** 20).toFixed(1),
    rssMiB: +(mem.rss / 2 ** 20).toFixed(1),
    evidenceRings: engine.loadedRules().reduce((s, r) => s + (r.evidence?.seriesCount ?? 0), 0),
    alerts: engine.alerts().length,
  };
}

const [, , modeArg, secondsArg] = process.argv;
if (modeArg === 'off' || modeArg === 'on') {
  const f = runMode(modeArg === 'on', Number(secondsArg), LINES_PER_RUN);
  process.send?.(f);
} else {
  const seconds = Math.min(Number(modeArg ?? 12) || 12, 12);
  const self = fileURLToPath(import.meta.url);
  const results: Figures[] = [];
  // Alternated twice: the machine is shared, so each mode's best run is reported.
  for (const mode of ['off', 'on', 'off', 'on']) {
    results.push(
      await new Promise<Figures>((resolve, reject) => {
        const child = fork(self, [mode, String(seconds)], { execArgv: ['--expose-gc'] });
        child.once('message', (m) => resolve(m as Figures));
        child.once('error', reject);
        child.once('exit', (code) => (code !== 0 ? reject(new Error(`${mode}: exit ${code}`)) : undefined));
      }),
    );
  }
  console.table(results);
  const best = (m: string) => results.filter((r) => r.mode.startsWith(m)).reduce((a, b) => (b.linesPerCpuSec > a.linesPerCpuSec ? b : a));
  const off = best('evidence off');
  const on = best('evidence on');
  console.log(`throughput (lines per CPU second) with evidence: ${((on.linesPerCpuSec / off.linesPerCpuSec) * 100).toFixed(1)}% of without; heap +${(on.heapUsedMiB - off.heapUsedMiB).toFixed(1)} MiB, RSS +${(on.rssMiB - off.rssMiB).toFixed(1)} MiB`);
}
