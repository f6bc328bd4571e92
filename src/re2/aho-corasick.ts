/**
 * Aho–Corasick over UTF-16 code units with Unicode simple case folding (via
 * the canonical-unit table): one pass over a line reports which of many
 * literals occur in it. Patterns are given already canonicalised
 * (re2-literals.ts prefilterString); line units are canonicalised on the fly
 * through a per-automaton unit → alphabet-class table, so the inner loop is two
 * typed-array loads per code unit. The goto/failure structure is compiled into
 * a full transition table (a DFA), so there is no failure-link chasing.
 */
import { foldCanonTable } from './unicode-data.js';

export class LiteralAutomaton {
  /** Code unit → alphabet class (0 = a unit no pattern contains). */
  private readonly unitClass: Uint16Array;
  private readonly stride: number;
  /**
   * Transitions, state × class. Entries hold the target state's row offset
   * (state × stride), bit-inverted (negative) when the target has outputs:
   * the inner loop needs no multiply and one sign test.
   */
  private readonly delta: Int32Array;
  /** Patterns ending at each state (own and via suffix links), as [outStart[s], outStart[s+1]) in outList. */
  private readonly outStart: Int32Array;
  private readonly outList: Int32Array;
  readonly stateCount: number;

  constructor(readonly patterns: readonly string[]) {
    // Alphabet: the distinct units of all patterns.
    const alphabet = new Map<number, number>();
    for (const p of patterns) {
      for (let i = 0; i < p.length; i++) {
        const u = p.charCodeAt(i);
        if (!alphabet.has(u)) alphabet.set(u, alphabet.size + 1);
      }
    }
    this.stride = alphabet.size + 1;
    const canon = foldCanonTable();
    this.unitClass = new Uint16Array(0x10000);
    for (let u = 0; u < 0x10000; u++) this.unitClass[u] = alphabet.get(canon[u]!) ?? 0;

    // Trie.
    const children: Map<number, number>[] = [new Map()];
    const own: number[][] = [[]];
    patterns.forEach((p, id) => {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = alphabet.get(p.charCodeAt(i))!;
        let nx = children[s]!.get(c);
        if (nx === undefined) {
          nx = children.length;
          children.push(new Map());
          own.push([]);
          children[s]!.set(c, nx);
        }
        s = nx;
      }
      own[s]!.push(id);
    });
    const n = children.length;
    this.stateCount = n;

    // BFS: failure links folded into full transitions; outputs inherit from the failure state.
    const delta = new Int32Array(n * this.stride);
    const fail = new Int32Array(n);
    const outs: number[][] = own.map((o) => [...o]);
    const queue: number[] = [];
    for (let c = 1; c < this.stride; c++) {
      const nx = children[0]!.get(c);
      if (nx !== undefined) {
        delta[c] = nx;
        fail[nx] = 0;
        queue.push(nx);
      }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      outs[s]!.push(...outs[fail[s]!]!);
      for (let c = 1; c < this.stride; c++) {
        const nx = children[s]!.get(c);
        if (nx !== undefined) {
          delta[s * this.stride + c] = nx;
          fail[nx] = delta[fail[s]! * this.stride + c]!;
          queue.push(nx);
        } else {
          delta[s * this.stride + c] = delta[fail[s]! * this.stride + c]!;
        }
      }
      // Class 0 (unit in no pattern) always returns to the root: delta[s*stride] stays 0.
    }
    // Re-encode targets as row offsets, negative when the target reports patterns.
    for (let i = 0; i < delta.length; i++) {
      const t = delta[i]!;
      delta[i] = outs[t]!.length > 0 ? ~(t * this.stride) : t * this.stride;
    }
    this.delta = delta;
    this.outStart = new Int32Array(n + 1);
    let total = 0;
    for (let s = 0; s < n; s++) {
      this.outStart[s] = total;
      total += outs[s]!.length;
    }
    this.outStart[n] = total;
    this.outList = new Int32Array(total);
    let k = 0;
    for (let s = 0; s < n; s++) for (const id of outs[s]!) this.outList[k++] = id;
  }

  /**
   * Scans `line`; for every pattern found whose `seen` entry isn't `gen` yet,
   * sets it to `gen` and appends the id to `found`. Returns the number appended.
   */
  scan(line: string, seen: Int32Array, gen: number, found: Int32Array): number {
    return this.scanRange(line, 0, line.length, seen, gen, found);
  }

  /**
   * `scan` over text[from, to) only, without slicing: a pattern is reported
   * only when its whole occurrence lies inside the range.
   */
  scanRange(text: string, from: number, to: number, seen: Int32Array, gen: number, found: Int32Array): number {
    const { unitClass, delta, stride, outStart, outList } = this;
    let row = 0;
    let k = 0;
    for (let i = from; i < to; i++) {
      const v = delta[row + unitClass[text.charCodeAt(i)]!]!;
      if (v >= 0) {
        row = v;
        continue;
      }
      row = ~v;
      const s = row / stride;
      const end = outStart[s + 1]!;
      for (let o = outStart[s]!; o < end; o++) {
        const id = outList[o]!;
        if (seen[id] !== gen) {
          seen[id] = gen;
          found[k++] = id;
        }
      }
    }
    return k;
  }
}
