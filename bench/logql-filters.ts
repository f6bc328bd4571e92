/**
 * Benchmark (not a test): line-filter cost per log line for 2, 50 and 200
 * rules over a realistic Talos line mix, through the shared prefilter
 * (LineFilterSet) and, for comparison, checking every rule's chain on its
 * own; plus the direct-vs-automaton crossover behind DIRECT_MAX_CANDIDATES.
 *
 * Also one regex at a time through each engine: our tiers, re2-wasm (real
 * RE2) and V8's experimental linear engine (the `l` flag), the alternatives
 * the tiering was designed against.
 *
 *   npm run build && node dist-tools/bench/logql-filters.js [--quick]
 */
import v8 from 'node:v8';
import { RE2 } from 're2-wasm';
import type { LineFilter } from '../src/logql/ast.js';
import { compileChain } from '../src/logql/line-filter.js';
import { DIRECT_MAX_CANDIDATES, LineFilterSet } from '../src/logql/line-filter-set.js';
import { compileLineRegex, compileWithTier } from '../src/re2/re2.js';
import { LazyDfa } from '../src/re2/re2-dfa.js';
import { toJsRegExp } from '../src/re2/re2-backtrack.js';
import { parseRe2 } from '../src/re2/re2-syntax.js';

const pos = { offset: 0, line: 1, column: 1 };
const quick = process.argv.includes('--quick');

/** Deterministic PRNG so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 0x1_0000_0000;
  };
}

const SUBSYSTEMS = ['btrfs', 'ext4', 'xfs', 'nvme', 'iscsi', 'scsi', 'usb', 'e1000e', 'mlx5', 'nfs', 'cgroup', 'kvm', 'i915', 'ata', 'md', 'dm'];
const EVENTS = ['error', 'failed', 'timeout', 'lost', 'reset', 'corrupt', 'hung', 'stall', 'panic', 'warning', 'denied', 'abort'];
const PHRASES = [
  'parent transid verify failed', 'I/O error', 'blk_update_request', 'Out of memory', 'segfault at', 'soft lockup',
  'hung_task_timeout_secs', 'EXT4-fs error', 'Buffer I/O error', 'link is not ready', 'Call Trace', 'BUG: unable to handle',
  'oom-kill', 'Package temperature above threshold', 'watchdog: BUG', 'rcu_sched self-detected stall', 'csum failed root',
  'Medium Error', 'task abort', 'device offline error',
];

/** A plausible rule set: literals, (?i) alternations, seed-like ordered regexes, classes, negatives. */
function rules(n: number): LineFilter[][] {
  const r = rng(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const out: LineFilter[][] = [];
  for (let i = 0; i < n; i++) {
    const kind = i < 2 ? i : Math.floor(r() * 10);
    const sub = pick(SUBSYSTEMS);
    const ev = pick(EVENTS);
    let chain: LineFilter[];
    if (kind === 0) chain = [{ op: '|=', values: ['parent transid verify failed'], pos }];
    else if (kind === 1) chain = [{ op: '|~', values: ['(?i)(iscsid|iscsi).*(error|failed|timeout|lost)'], pos }];
    else if (kind <= 4) chain = [{ op: '|=', values: [`${pick(PHRASES)}${i % 3 === 0 ? '' : ` ${sub}${i}`}`], pos }];
    else if (kind <= 6) chain = [{ op: '|~', values: [`(?i)${sub}${i}|${ev}_${sub}`], pos }];
    else if (kind === 7) chain = [{ op: '|~', values: [`(?i)(${sub}|${sub}${i}).*(${ev}|${pick(EVENTS)})`], pos }];
    else if (kind === 8) chain = [{ op: '|~', values: [`${sub}\\d+: .*${ev} \\d+`], pos }];
    else chain = [{ op: '|=', values: [ev], pos }, { op: '!=', values: [`${sub} debug`], pos }, { op: '|~', values: [`(?i)${sub}`], pos }];
    out.push(chain);
  }
  return out;
}

/** A Talos-like line mix: kernel and service lines, mostly not matching any rule. */
function lines(count: number): string[] {
  const r = rng(7);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const hex = () => Math.floor(r() * 0xffffffff).toString(16);
  const templates: (() => string)[] = [
    () => `NET: Registered protocol family ${Math.floor(r() * 40)}`,
    () => `[talos] task startAllServices (1/1): waiting for ${Math.floor(r() * 9)} services`,
    () => `2025/08/27 12:01:03.645887 machined OK [/machine.MachineService/Processes] ${(r() * 40).toFixed(6)}ms unary Success`,
    () => `finished scheduled compaction`,
    () => `Failed creating a mirror pod for: pods "kube-controller-manager-talos-dev-qemu-master-${Math.floor(r() * 3)}" already exists`,
    () => `audit: type=1400 audit(${Math.floor(r() * 1e9)}.${Math.floor(r() * 999)}:${Math.floor(r() * 999)}): apparmor="STATUS" operation="profile_load" name="cri-containerd.apparmor.d" pid=${Math.floor(r() * 99999)}`,
    () => `eth0: renamed from veth${hex()}`,
    () => `IPv6: ADDRCONF(NETDEV_CHANGE): lxc${hex()}: link becomes ready`,
    () => `"Observed a panic" panic="runtime error: invalid memory address" ctx=${hex()}`,
    () => `{"level":"info","ts":${r() * 1e9},"caller":"etcdserver/server.go:${Math.floor(r() * 3000)}","msg":"apply request took too long","took":"${(r() * 300).toFixed(3)}ms"}`,
    () => `Updated resolv.conf with nameservers [10.96.0.10] search [kube-system.svc.cluster.local svc.cluster.local]`,
    () => `${pick(SUBSYSTEMS)}${Math.floor(r() * 4)}: ${pick(['link up', 'reset done', 'queue 3 reconfigured', 'firmware loaded'])} (${hex()})`,
  ];
  const matching: (() => string)[] = [
    () => `BTRFS error (device sdb state EA): parent transid verify failed on logical ${Math.floor(r() * 1e9)} mirror 1 wanted 1234 found 1230`,
    () => `iscsid: Kernel reported iSCSI connection 1:0 error (1022 - ISCSI_ERR_NOP_TIMEDOUT) state (3)`,
    () => ` connection1:0: ping timeout of 5 secs expired, recv timeout 5, last rx ${Math.floor(r() * 1e10)}`,
    () => `blk_update_request: I/O error, dev sdb, sector ${Math.floor(r() * 1e8)} op 0x1:(WRITE) flags 0x800`,
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(r() < 0.02 ? pick(matching)() : pick(templates)());
  return out;
}

/** Best of several timed rounds (robust against other processes on a shared machine). */
function nsPerLine(fn: (line: string) => number, mix: readonly string[], minMs: number, rounds = 7): number {
  let sink = 0;
  for (let k = 0; k < 3; k++) for (const l of mix) sink += fn(l); // warm-up: JIT, DFA states
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      for (const l of mix) sink += fn(l);
      n += mix.length;
      elapsed = process.hrtime.bigint() - t0;
    } while (elapsed < BigInt(Math.round((minMs / rounds) * 1e6)));
    best = Math.min(best, Number(elapsed) / n);
  }
  if (sink === -1) console.log(''); // keep `sink` observable
  return best;
}

function main(): void {
  const mix = lines(4000);
  const minMs = quick ? 700 : 3000;
  const avgLen = mix.reduce((a, l) => a + l.length, 0) / mix.length;
  console.log(`line mix: ${mix.length} lines, mean ${avgLen.toFixed(0)} chars, node ${process.version}`);
  console.log('\nrules  prefilter ns/line  each-chain ns/line  literals  matches/1000 lines');
  for (const n of [2, 50, 200]) {
    const chains = rules(n);
    const set = new LineFilterSet();
    const ids = chains.map((c) => set.add(c));
    set.build();
    const out: number[] = [];
    const naive = chains.map(compileChain);
    let hits = 0;
    for (const l of mix) hits += set.match(l, ids, out);
    const viaSet = nsPerLine((l) => set.match(l, ids, out), mix, minMs);
    const each = nsPerLine((l) => {
      let k = 0;
      for (const c of naive) if (c.test(l)) k++;
      return k;
    }, mix, minMs);
    console.log(
      `${String(n).padStart(5)}  ${viaSet.toFixed(0).padStart(17)}  ${each.toFixed(0).padStart(18)}  ${String(set.prefilterLiterals).padStart(8)}  ${((hits / mix.length) * 1000).toFixed(1).padStart(18)}`,
    );
  }

  engines(mix, minMs);

  console.log(`\ncrossover (DIRECT_MAX_CANDIDATES = ${DIRECT_MAX_CANDIDATES}): ns/line, chain by chain vs one automaton pass`);
  for (const n of [1, 2, 3, 4, 6, 8, 12]) {
    const chains = rules(n);
    const direct = new LineFilterSet({ directMaxCandidates: Infinity });
    const auto = new LineFilterSet({ directMaxCandidates: 0 });
    const ids = chains.map((c) => (auto.add(c), direct.add(c)));
    direct.build();
    auto.build();
    const out: number[] = [];
    const d = nsPerLine((l) => direct.match(l, ids, out), mix, minMs / 3);
    const a = nsPerLine((l) => auto.match(l, ids, out), mix, minMs / 3);
    console.log(`${String(n).padStart(3)} rules: direct ${d.toFixed(0).padStart(5)}  automaton ${a.toFixed(0).padStart(5)}`);
  }
}

/** One regex over the mix, per engine (n/a where an engine can't take the pattern). */
function engines(mix: readonly string[], minMs: number): void {
  v8.setFlagsFromString('--enable-experimental-regexp-engine');
  const patterns = [
    '(?i)(iscsid|iscsi).*(error|failed|timeout|lost)',
    'parent transid verify failed',
    '(?i)error|fail',
    'sd[a-z]: .*error \\d+',
    '\\d+ms',
    '(\\w+\\s?)+$',
  ];
  const col = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(0)).padStart(9);
  console.log('\none regex, ns/line:');
  console.log(`${'pattern'.padEnd(50)}  planned   literal backtrack       dfa  re2-wasm v8-linear`);
  for (const p of patterns) {
    const re = parseRe2(p);
    const planned = compileLineRegex(p);
    const lit = compileWithTier(p, 'literal');
    let js: RegExp | undefined;
    try {
      js = toJsRegExp(re);
    } catch {
      js = undefined;
    }
    const dfa = new LazyDfa(re, false);
    const r2 = new RE2(p, 'u');
    let linear: RegExp | undefined;
    try {
      linear = new RegExp(toJsRegExp(re, '').source, 'l');
    } catch {
      linear = undefined;
    }
    const t = (m: { test(s: string): boolean } | undefined, safe = true) =>
      m === undefined || !safe ? undefined : nsPerLine((l) => (m.test(l) ? 1 : 0), mix, minMs / 4, 3);
    // V8 backtracking is only timed where the planner would use it (the last pattern is exponential).
    const jsSafe = planned.tier !== 'dfa';
    console.log(
      `${p.padEnd(50)} ${planned.tier.padStart(8)} ${col(t(lit))} ${col(t(js, jsSafe))} ${col(t(dfa))} ${col(t(r2))} ${col(t(linear))}`,
    );
  }
}

main();
