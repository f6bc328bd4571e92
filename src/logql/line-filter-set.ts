/**
 * Line filters of every rule, evaluated together. Each selector's chain is
 * registered once (`add`); per line the engine passes the ids whose label
 * matchers already matched. The literals each chain requires (`|= "x"`, the
 * strings every match of a `|~` regex contains, case-folded) are looked for
 * in one Aho–Corasick pass over the line for all chains at once; only chains
 * whose required literals all occur run their exact check, and only those are
 * visited at all — so 200 rules cost little more than 2. With only a few
 * candidates the direct checks (String#includes first) are cheaper than a
 * scan, so those skip it. Chains with no required literal (only negative
 * filters, or regexes with no literal in every match) always run their exact
 * check. Identical chains are compiled and checked once.
 *
 * The lazy-decode gate (talos/raw-gate.ts) runs the prefilter alone
 * (`prefilterRange`) over the msg's span of a record's raw JSON text, to drop
 * records none of the rules can match before they are parsed.
 */
import type { LineFilter } from './ast.js';
import { LiteralAutomaton } from '../re2/aho-corasick.js';
import { type CompiledChain, compileChain } from './line-filter.js';

/**
 * Up to this many candidates a line is checked chain by chain (each check
 * starts with its cheapest literal test); beyond it one automaton pass first.
 * Measured with bench/logql-filters.ts.
 */
export const DIRECT_MAX_CANDIDATES = 3;

const GEN_LIMIT = 0x7fffffff;

export interface LineFilterSetOptions {
  /** Override DIRECT_MAX_CANDIDATES (benchmarks force either path with it). */
  directMaxCandidates?: number;
}

/** Per candidate list (the engine caches one per label set): which chains it covers, and with which ids. */
interface CandidatePlan {
  /** Chain → 1 when some candidate id uses it. */
  member: Uint8Array;
  /** Ids per chain: chainIds[idStart[c] .. idStart[c+1]). */
  idStart: Int32Array;
  chainIds: Int32Array;
  /** Candidate chains without required literals: always checked. */
  unconditional: Int32Array;
  /** Id → its index in the candidate list (to return ids in candidate order). */
  rank: Map<number, number>;
}

export class LineFilterSet {
  private readonly directMax: number;
  private readonly chains: CompiledChain[] = [];
  private readonly chainOfId: number[] = [];
  private readonly chainByKey = new Map<string, number>();
  private built = false;

  private automaton: LiteralAutomaton | undefined;
  /**
   * Required groups, numbered globally: chain c owns groups [groupStart[c], groupStart[c+1]);
   * group g's literal ids are groupLits[groupLitEnd[g-1] (0 for g = 0) .. groupLitEnd[g]).
   */
  private groupStart = new Int32Array(1);
  private groupLitEnd = new Int32Array(0);
  private groupLits = new Int32Array(0);
  /** Literal id → chains requiring it. */
  private litChains: Int32Array[] = [];
  private litSeen = new Int32Array(0);
  private found = new Int32Array(0);
  private chainTouched = new Int32Array(0);
  private touched = new Int32Array(0);
  private memoGen = new Int32Array(0);
  private memoVal = new Uint8Array(0);
  private gen = 0;
  private plans = new WeakMap<readonly number[], CandidatePlan>();
  private lastCandidates: readonly number[] | undefined;
  private lastPlan: CandidatePlan | undefined;

  constructor(opts: LineFilterSetOptions = {}) {
    this.directMax = opts.directMaxCandidates ?? DIRECT_MAX_CANDIDATES;
  }

  /** Registers a selector's filter chain; returns its id for `match`. Throws Re2SyntaxError. */
  add(filters: readonly LineFilter[]): number {
    if (this.built) throw new Error('LineFilterSet.add after build()');
    const key = JSON.stringify(filters.map((f) => [f.op, f.values]));
    let c = this.chainByKey.get(key);
    if (c === undefined) {
      c = this.chains.length;
      this.chains.push(compileChain(filters));
      this.chainByKey.set(key, c);
    }
    this.chainOfId.push(c);
    return this.chainOfId.length - 1;
  }

  /** Number of registered ids. */
  get size(): number {
    return this.chainOfId.length;
  }

  /** Distinct literals in the shared prefilter (0: no automaton). */
  get prefilterLiterals(): number {
    return this.automaton?.patterns.length ?? 0;
  }

  /** Number of distinct chains (ids with identical filters share one). */
  get chainCount(): number {
    return this.chains.length;
  }

  /** The chain of a registered id. */
  chainOf(id: number): number {
    return this.chainOfId[id]!;
  }

  /** Required-literal groups of a chain: -1 it never passes, 0 none (the prefilter cannot rule it out), else how many. */
  requiredGroups(chain: number): number {
    if (!this.built) this.build();
    if (this.chains[chain]!.never) return -1;
    return this.groupStart[chain + 1]! - this.groupStart[chain]!;
  }

  /** Every distinct required literal (case-folded, as the prefilter compares them). */
  requiredLiterals(): readonly string[] {
    if (!this.built) this.build();
    return this.automaton?.patterns ?? [];
  }

  /**
   * The prefilter alone, over text[from, to) (no slicing): true when some
   * chain c with wanted[c] === 1 and at least one required group has a
   * literal of every group occurring wholly inside the range. A false says
   * none of those chains can pass on a line that contains no more of their
   * literals than the range does. Chains without required literals are the
   * caller's to handle (requiredGroups).
   */
  prefilterRange(text: string, from: number, to: number, wanted: Uint8Array): boolean {
    if (!this.built) this.build();
    const automaton = this.automaton;
    if (automaton === undefined) return false;
    const gen = this.nextGen();
    const { found, litChains, chainTouched } = this;
    const nFound = automaton.scanRange(text, from, to, this.litSeen, gen, found);
    for (let f = 0; f < nFound; f++) {
      const users = litChains[found[f]!]!;
      for (let u = 0; u < users.length; u++) {
        const c = users[u]!;
        if (chainTouched[c] === gen) continue;
        chainTouched[c] = gen;
        if (wanted[c] === 1 && this.requirementsMet(c, gen)) return true;
      }
    }
    return false;
  }

  build(): void {
    if (this.built) return;
    this.built = true;
    const litIds = new Map<string, number>();
    const starts: number[] = [0];
    const ends: number[] = [];
    const lits: number[] = [];
    const litChains: number[][] = [];
    this.chains.forEach((chain, c) => {
      if (!chain.never) {
        for (const group of chain.required) {
          for (const s of group) {
            let id = litIds.get(s);
            if (id === undefined) {
              id = litIds.size;
              litIds.set(s, id);
              litChains.push([]);
            }
            lits.push(id);
            const users = litChains[id]!;
            if (users[users.length - 1] !== c) users.push(c);
          }
          ends.push(lits.length);
        }
      }
      starts[c + 1] = ends.length;
    });
    const n = this.chains.length;
    this.groupStart = Int32Array.from(starts);
    this.groupLitEnd = Int32Array.from(ends);
    this.groupLits = Int32Array.from(lits);
    this.litChains = litChains.map((l) => Int32Array.from(l));
    this.automaton = litIds.size > 0 ? new LiteralAutomaton([...litIds.keys()]) : undefined;
    this.litSeen = new Int32Array(litIds.size);
    this.found = new Int32Array(litIds.size);
    this.chainTouched = new Int32Array(n);
    this.touched = new Int32Array(n);
    this.memoGen = new Int32Array(n);
    this.memoVal = new Uint8Array(n);
  }

  private nextGen(): number {
    if (++this.gen >= GEN_LIMIT) {
      this.litSeen.fill(0);
      this.chainTouched.fill(0);
      this.memoGen.fill(0);
      this.gen = 1;
    }
    return this.gen;
  }

  private planFor(candidates: readonly number[]): CandidatePlan {
    if (candidates === this.lastCandidates) return this.lastPlan!;
    let plan = this.plans.get(candidates);
    if (plan === undefined) {
      const n = this.chains.length;
      const member = new Uint8Array(n);
      const byChain: number[][] = this.chains.map(() => []);
      const rank = new Map<number, number>();
      candidates.forEach((id, i) => {
        const c = this.chainOfId[id]!;
        member[c] = 1;
        byChain[c]!.push(id);
        rank.set(id, i);
      });
      const idStart = new Int32Array(n + 1);
      const chainIds: number[] = [];
      const unconditional: number[] = [];
      for (let c = 0; c < n; c++) {
        idStart[c] = chainIds.length;
        chainIds.push(...byChain[c]!);
        if (member[c] === 1 && this.groupStart[c + 1] === this.groupStart[c]) unconditional.push(c);
      }
      idStart[n] = chainIds.length;
      plan = { member, idStart, chainIds: Int32Array.from(chainIds), unconditional: Int32Array.from(unconditional), rank };
      this.plans.set(candidates, plan);
    }
    this.lastCandidates = candidates;
    this.lastPlan = plan;
    return plan;
  }

  /** Exact check of one chain, once per line even if several ids share it. */
  private passes(c: number, line: string, gen: number): boolean {
    if (this.memoGen[c] === gen) return this.memoVal[c] === 1;
    const v = this.chains[c]!.test(line);
    this.memoGen[c] = gen;
    this.memoVal[c] = v ? 1 : 0;
    return v;
  }

  private requirementsMet(c: number, gen: number): boolean {
    const { groupLitEnd, groupLits, litSeen } = this;
    const gEnd = this.groupStart[c + 1]!;
    for (let g = this.groupStart[c]!; g < gEnd; g++) {
      let ok = false;
      const lEnd = groupLitEnd[g]!;
      for (let l = g === 0 ? 0 : groupLitEnd[g - 1]!; l < lEnd; l++) {
        if (litSeen[groupLits[l]!] === gen) {
          ok = true;
          break;
        }
      }
      if (!ok) return false;
    }
    return true;
  }

  /**
   * Writes into `out` the ids among `candidates` whose whole filter chain
   * passes for `line`, in candidate order; returns how many. Allocates
   * nothing per line (a candidate list seen for the first time is indexed
   * once; pass the same array again, as the engine's per-label-set cache does).
   */
  match(line: string, candidates: readonly number[], out: number[]): number {
    if (!this.built) this.build();
    const nc = candidates.length;
    if (nc === 0) return 0;
    const gen = this.nextGen();
    let k = 0;
    const automaton = this.automaton;
    if (automaton === undefined || nc <= this.directMax) {
      const chainOfId = this.chainOfId;
      for (let i = 0; i < nc; i++) {
        const id = candidates[i]!;
        if (this.passes(chainOfId[id]!, line, gen)) out[k++] = id;
      }
      return k;
    }
    const plan = this.planFor(candidates);
    const { found, litChains, chainTouched, touched } = this;
    // 1. One pass over the line: which literals occur, hence which chains could pass.
    const nFound = automaton.scan(line, this.litSeen, gen, found);
    let nt = 0;
    for (let f = 0; f < nFound; f++) {
      const users = litChains[found[f]!]!;
      for (let u = 0; u < users.length; u++) {
        const c = users[u]!;
        if (chainTouched[c] !== gen) {
          chainTouched[c] = gen;
          touched[nt++] = c;
        }
      }
    }
    // 2. Exact checks, only for candidate chains whose required literals are all there...
    const { member, idStart, chainIds } = plan;
    for (let t = 0; t < nt; t++) {
      const c = touched[t]!;
      if (member[c] === 1 && this.requirementsMet(c, gen) && this.passes(c, line, gen)) {
        for (let j = idStart[c]!; j < idStart[c + 1]!; j++) out[k++] = chainIds[j]!;
      }
    }
    // ...and for those that require nothing.
    const uncond = plan.unconditional;
    for (let t = 0; t < uncond.length; t++) {
      const c = uncond[t]!;
      if (this.passes(c, line, gen)) for (let j = idStart[c]!; j < idStart[c + 1]!; j++) out[k++] = chainIds[j]!;
    }
    if (k > 1) sortByRank(out, k, plan.rank);
    return k;
  }
}

/** Insertion sort of out[0..k) by candidate position (k is small: the ids that matched). */
function sortByRank(out: number[], k: number, rank: Map<number, number>): void {
  for (let i = 1; i < k; i++) {
    const v = out[i]!;
    const r = rank.get(v)!;
    let j = i - 1;
    while (j >= 0 && rank.get(out[j]!)! > r) {
      out[j + 1] = out[j]!;
      j--;
    }
    out[j + 1] = v;
  }
}
