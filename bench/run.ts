/**
 * `npm run bench`: every scenario of BENCHMARKS.md, one figure per line, each
 * with its target, the command that reproduces it and the machine's cores.
 *
 *   npm run bench                      all scenarios (~4–5 min on 2 cores)
 *   npm run bench -- --quick           shorter rounds (~1.5 min)
 *   npm run bench -- --only 4          one scenario (repeatable: --only 1 --only 3)
 *   npm run bench -- --only 7          the peer: mtail (Debian package) vs the sidecar, same traffic
 *   npm run bench -- --only 1 --profile   plus a CPU profile of scenario 1's in-process path
 *   npm run bench -- --json out.json   also write every figure as JSON
 *   npm run bench -- --only 3 --eager-decode  also each part's talos.lazy_decode: false variant where
 *                                      one exists (scenarios 1 and 3), with its own 2→200 rule ratio
 *
 * Each part runs in a fresh forked process so one scenario's heap, JIT state
 * and RSS never leak into the next. Exit code 1 only when a part fails to
 * run; a target that is not met is reported, not an error.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { fmt, meets, type Figure } from './figures.js';
import type { PartMessage } from './part-child.js';
import { EAGER_LABEL, PARTS, SCENARIO_PARTS, type PartOutput } from './part-definitions.js';

const TITLES: Record<number, string> = {
  1: 'alert path only (sources → decode → rules, no sinks)',
  2: 'alert path with Loki forwarding',
  3: 'rule scaling (2, 50, 200 rules)',
  4: 'alert latency under 100k lines/s background',
  5: 'memory under load',
  6: 'start to ready',
  7: 'peer: mtail on the same traffic and patterns (same run)',
  8: 'LogQL pipelines (json, logfmt + unwrap) against the seed rules alone (same run)',
};

interface Args {
  quick: boolean;
  only: number[];
  profile: boolean;
  json: string | undefined;
  eagerDecode: boolean;
}

function parse(argv: string[]): Args {
  const a: Args = { quick: false, only: [], profile: false, json: undefined, eagerDecode: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--profile') a.profile = true;
    else if (x === '--eager-decode') a.eagerDecode = true;
    else if (x === '--only' || x.startsWith('--only=')) {
      const v = Number(x.includes('=') ? x.slice(7) : argv[++i]);
      if (!(v in SCENARIO_PARTS)) throw new Error(`--only: no scenario ${v} (1–8)`);
      a.only.push(v);
    } else if (x === '--json') a.json = argv[++i];
    else throw new Error(`unknown argument ${x} (see the header of bench/run.ts)`);
  }
  return a;
}

function runPart(id: string, quick: boolean): Promise<PartOutput> {
  const script = fileURLToPath(new URL('./part-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = fork(script, [id, ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let answer: PartMessage | undefined;
    child.on('message', (m) => (answer = m as PartMessage));
    child.on('exit', (code, signal) => {
      if (answer?.ok === true) resolve(answer.output);
      else reject(new Error(answer?.ok === false ? answer.error : `part ${id} exited (${signal ?? code}) without a result`));
    });
  });
}

function repro(scenario: number, args: Args): string {
  return `npm run bench -- --only ${scenario}${args.quick ? ' --quick' : ''}${args.eagerDecode ? ' --eager-decode' : ''}`;
}

function line(f: Figure, args: Args, cores: number): string {
  const target = f.target === undefined ? '' : ` | target ${f.target.cmp === '>=' ? '≥' : f.target.cmp === '<=' ? '≤' : '<'} ${fmt(f.target.value)} ${f.unit}: ${meets(f.value, f.target) ? 'met' : 'NOT met'}`;
  return `[${f.scenario}] ${f.label}: ${fmt(f.value)} ${f.unit}${target} | ${cores} cores | repro: ${repro(f.scenario, args)}`;
}

/** Figures that compare parts of one scenario. */
function derived(scenario: number, figs: Figure[]): Figure[] {
  if (scenario === 3) {
    const out: Figure[] = [];
    for (const eager of [false, true]) {
      const by = (n: number): Figure | undefined => figs.find((f) => f.label.startsWith(`rule scaling: ${n} rules`) && f.label.includes(EAGER_LABEL) === eager);
      const two = by(2);
      const many = by(200);
      if (two === undefined || many === undefined) continue;
      const label = `rule scaling: slowdown from 2 to 200 rules${eager ? `, ${EAGER_LABEL}` : ''} (lines/s with 2 ÷ lines/s with 200)`;
      out.push({ scenario, label, value: two.value / many.value, unit: '×', target: { cmp: '<=', value: 2 } });
    }
    return out;
  }
  if (scenario === 7) {
    const sidecar = figs.find((f) => f.label.includes('sidecar'));
    const mtail = figs.find((f) => f.label.includes('mtail'));
    if (sidecar === undefined || mtail === undefined) return [];
    return [{ scenario, label: 'peer ratio: sidecar lines/s ÷ mtail lines/s (same run, same traffic)', value: sidecar.value / mtail.value, unit: '×', target: { cmp: '>=', value: 10 } }];
  }
  const rss = figs.filter((f) => f.label.startsWith('RSS of the sidecar'));
  if (scenario === 5 && rss.length === 2) {
    const [base, x10] = rss as [Figure, Figure];
    return [{ scenario, label: 'memory flatness: RSS at 10× match rate ÷ RSS at base match rate', value: x10.value / base.value, unit: '×', target: { cmp: '<=', value: 1.1 } }];
  }
  return [];
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const cores = os.availableParallelism();
  const scenarios = args.only.length > 0 ? [...new Set(args.only)].sort((a, b) => a - b) : Object.keys(SCENARIO_PARTS).map(Number);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(
    `talos-alert-sidecar benchmarks — ${cores} cores (os.availableParallelism()), ${os.cpus()[0]?.model ?? 'unknown CPU'}, ` +
      `node ${process.version}, ${os.platform()} ${os.arch()}, load average at start ${load}${args.quick ? ', --quick' : ''}\n`,
  );
  const all: Figure[] = [];
  let failed = 0;
  for (const s of scenarios) {
    process.stdout.write(`\n== scenario ${s}: ${TITLES[s]}\n`);
    const figs: Figure[] = [];
    const parts = SCENARIO_PARTS[s]!.flatMap((id) => (args.eagerDecode && `${id}:eager` in PARTS ? [id, `${id}:eager`] : [id]));
    if (s === 1 && args.profile) parts.push('1:profile');
    for (const id of parts) {
      try {
        const out = await runPart(id, args.quick);
        for (const f of out.figures) {
          process.stdout.write(`${line(f, args, cores)}\n`);
          if (f.note !== undefined) process.stdout.write(`      ${f.note}\n`);
          figs.push(f);
        }
        if (out.profile !== undefined) {
          process.stdout.write(`      top self time (profile: ${out.profile.file}):\n`);
          for (const t of out.profile.top) process.stdout.write(`        ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.where}\n`);
        }
      } catch (e) {
        failed++;
        process.stdout.write(`[${s}] part ${id} FAILED: ${(e as Error).message}\n`);
      }
    }
    for (const f of derived(s, figs.filter((f) => !f.label.includes('profiler')))) {
      process.stdout.write(`${line(f, args, cores)}\n`);
      figs.push(f);
    }
    all.push(...figs);
  }
  if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify({ cores, node: process.version, quick: args.quick, figures: all }, null, 2)}\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 2;
  },
);
