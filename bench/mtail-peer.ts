/**
 * The peer: mtail (Debian package `mtail`, Go), the usual way to count log
 * patterns into metrics, on the same generated Talos traffic with the seed's
 * two patterns (rules/talos-kernel.yaml): `parent transid verify failed` and
 * `(?i)(iscsid|iscsi).*(error|failed|timeout|lost)`, one counter each.
 *
 * mtail reads the corpus from a file in `--one_shot` mode (read from start to
 * EOF, print the counters, exit), pinned to one core with `taskset -c 0` like
 * the sidecar's single event loop. Its fixed start-up (compiling the program,
 * measured on an empty file) is subtracted. The counters it prints are
 * checked against the number of corpus lines the two patterns match, so a
 * run that read nothing cannot pass for a fast one. A missing mtail binary is
 * an error, never a figure.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { buildCorpus } from './corpus.js';
import { mixCorpus } from './throughput.js';

export const MTAIL_PROGRAM = `# The seed rules' two line filters (rules/talos-kernel.yaml), as mtail patterns.
counter btrfs_parent_transid_lines
counter iscsi_error_lines
/parent transid verify failed/ {
  btrfs_parent_transid_lines++
}
/(?i)(iscsid|iscsi).*(error|failed|timeout|lost)/ {
  iscsi_error_lines++
}
`;

export interface MtailResult {
  lines: number;
  /** Wall time of the corpus run minus an empty run (start-up, program compile). */
  ms: number;
  linesPerSec: number;
  /** mtail's user+system CPU over the corpus run (start-up included), per line. */
  linesPerCpuSec: number;
  startupMs: number;
  counters: { btrfs: number; iscsi: number };
  expected: { btrfs: number; iscsi: number };
  pinned: boolean;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface Run {
  wallMs: number;
  cpuMs: number;
  out: string;
}

/** One bounded `mtail --one_shot` run; CPU time from /usr/bin/time when present. */
function runMtail(mtail: string, progs: string, log: string, timeoutMs: number): Promise<Run> {
  const taskset = onPath('taskset');
  const time = onPath('time');
  const argv = [mtail, '--progs', progs, '--logs', log, '--one_shot', '--one_shot_format', 'prometheus'];
  const pinned = taskset !== undefined ? [taskset, '-c', '0', ...argv] : argv;
  const cmd = time !== undefined ? [time, '-f', 'TIME %U %S', ...pinned] : pinned;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GOMAXPROCS: taskset === undefined ? '1' : process.env.GOMAXPROCS ?? '' } });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      if (code !== 0) {
        reject(new Error(`mtail exited (${signal ?? code}) after ${Math.round(wallMs)} ms${signal === 'SIGKILL' ? ' (timeout)' : ''}: ${err.slice(-500)}`));
        return;
      }
      const m = /TIME ([\d.]+) ([\d.]+)/.exec(err);
      resolve({ wallMs, cpuMs: m === null ? NaN : (Number(m[1]) + Number(m[2])) * 1000, out });
    });
  });
}

function counter(out: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(out);
  if (m === null) throw new Error(`mtail printed no ${name} counter:\n${out.slice(0, 500)}`);
  return Number(m[1]);
}

export async function mtailThroughput(lines: number, timeoutMs = 100_000): Promise<MtailResult> {
  const mtail = onPath('mtail');
  if (mtail === undefined) throw new Error('mtail is not installed (Debian package `mtail`): no peer figure');
  const dir = mkdtempSync(join(tmpdir(), 'talos-bench-mtail-'));
  try {
    const progs = join(dir, 'progs');
    mkdirSync(progs);
    writeFileSync(join(progs, 'seed.mtail'), MTAIL_PROGRAM);
    const corpus = buildCorpus(mixCorpus(lines));
    const log = join(dir, 'talos.log');
    writeFileSync(log, Buffer.concat(corpus.connections.map((c) => c.bytes)));
    const empty = join(dir, 'empty.log');
    writeFileSync(empty, '');
    // What the patterns match in the corpus (mtail reads the raw JSON lines; so does this count).
    const expected = { btrfs: 0, iscsi: 0 };
    const iscsi = /(iscsid|iscsi).*(error|failed|timeout|lost)/i;
    for (const c of corpus.connections) {
      for (const line of c.bytes.toString('utf8').split('\n')) {
        if (line.includes('parent transid verify failed')) expected.btrfs++;
        if (iscsi.test(line)) expected.iscsi++;
      }
    }
    const start = await runMtail(mtail, progs, empty, 30_000);
    const run = await runMtail(mtail, progs, log, timeoutMs);
    const counters = { btrfs: counter(run.out, 'btrfs_parent_transid_lines'), iscsi: counter(run.out, 'iscsi_error_lines') };
    if (counters.btrfs !== expected.btrfs || counters.iscsi !== expected.iscsi) {
      throw new Error(`mtail counted ${JSON.stringify(counters)}, the corpus has ${JSON.stringify(expected)}: it did not read the whole corpus`);
    }
    const ms = Math.max(1, run.wallMs - start.wallMs);
    return {
      lines: corpus.lines,
      ms,
      linesPerSec: (corpus.lines / ms) * 1000,
      linesPerCpuSec: (corpus.lines / run.cpuMs) * 1000,
      startupMs: start.wallMs,
      counters,
      expected,
      pinned: onPath('taskset') !== undefined,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
