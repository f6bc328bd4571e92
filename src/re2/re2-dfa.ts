/**
 * Over 400 lines: the NFA it compiles and the lazy DFA built over it share one state layout.
 * A lazily built DFA over UTF-16 code units answering "does the regex match
 * anywhere in (or, anchored, all of) this string?" in time linear in the
 * string: each code unit costs one table lookup once its transition is known,
 * and computing a transition is bounded by the NFA size (RE2's approach; with
 * a bounded state cache that is flushed when full).
 *
 * The Thompson NFA is built over code units: BMP sets become unit ranges,
 * astral sets surrogate-pair sequences. Zero-width assertions (^ $ \A \z \b
 * \B) are resolved while computing a transition, from the kind of the
 * previous unit (kept in the DFA state) and of the next one (the transition's
 * input). A lone surrogate (possible only from a crafted `\ud800` JSON escape)
 * is matched as U+FFFD, which is what Go sees after its JSON decoder replaced
 * it: that needs "next unit is not a low surrogate" and "previous unit is not
 * a high surrogate" assertions.
 */
import { type CodeSet, setHas, setIntersect, setMinus } from './code-set.js';
import type { AssertKind, Re } from './re2-syntax.js';
import { foldOrbit } from './unicode-data.js';

const OP_UNIT = 0;
const OP_SPLIT = 1;
const OP_ASSERT = 2;
const OP_MATCH = 3;

const A_BOT = 0;
const A_EOT = 1;
const A_BOL = 2;
const A_EOL = 3;
const A_WB = 4;
const A_NWB = 5;
const A_NOT_NEXT_LOW = 6;
const A_NOT_PREV_HIGH = 7;

const ASSERT_CODES: Record<AssertKind, number> = { bot: A_BOT, eot: A_EOT, bol: A_BOL, eol: A_EOL, wb: A_WB, nwb: A_NWB };

/** Kind of the unit before/after a position, all assertions depend on. */
const K_EDGE = 0;
const K_WORD = 1;
const K_NL = 2;
const K_HIGH = 3;
const K_LOW = 4;
const K_OTHER = 5;

function kindOfUnit(u: number): number {
  if (u === 10) return K_NL;
  if ((u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5a) || u === 0x5f || (u >= 0x61 && u <= 0x7a)) return K_WORD;
  if (u >= 0xd800 && u <= 0xdbff) return K_HIGH;
  if (u >= 0xdc00 && u <= 0xdfff) return K_LOW;
  return K_OTHER;
}

/** Unit values where the kind changes (interval starts). */
const KIND_BOUNDARIES = [0, 10, 11, 0x30, 0x3a, 0x41, 0x5b, 0x5f, 0x60, 0x61, 0x7b, 0xd800, 0xdc00, 0xe000];

function assertHolds(a: number, prev: number, next: number): boolean {
  switch (a) {
    case A_BOT:
      return prev === K_EDGE;
    case A_EOT:
      return next === K_EDGE;
    case A_BOL:
      return prev === K_EDGE || prev === K_NL;
    case A_EOL:
      return next === K_EDGE || next === K_NL;
    case A_WB:
      return (prev === K_WORD) !== (next === K_WORD);
    case A_NWB:
      // Go checks assertions only between code points: never inside a surrogate pair.
      return (prev === K_WORD) === (next === K_WORD) && !(prev === K_HIGH && next === K_LOW);
    case A_NOT_NEXT_LOW:
      return next !== K_LOW;
    default:
      return prev !== K_HIGH;
  }
}

const SURROGATES: CodeSet = [0xd800, 0xdfff];
const BMP: CodeSet = [0, 0xffff];
const ASTRAL: CodeSet = [0x10000, 0x10ffff];

/** Thompson NFA over UTF-16 code units, built by continuation passing (compile(re, next) → start). */
class NfaBuilder {
  readonly op: number[] = [];
  readonly out: number[] = [];
  /** SPLIT: second branch; ASSERT: assertion code; UNIT: index into `ranges`. */
  readonly arg: number[] = [];
  readonly ranges: number[][] = [];

  private add(op: number, out: number, arg: number): number {
    this.op.push(op);
    this.out.push(out);
    this.arg.push(arg);
    return this.op.length - 1;
  }

  unit(ranges: number[], next: number): number {
    this.ranges.push(ranges);
    return this.add(OP_UNIT, next, this.ranges.length - 1);
  }

  split(a: number, b: number): number {
    return this.add(OP_SPLIT, a, b);
  }

  assert(code: number, next: number): number {
    return this.add(OP_ASSERT, next, code);
  }

  match(): number {
    return this.add(OP_MATCH, -1, 0);
  }

  /** Alternation of the given starts (already compiled against the same next). */
  private anyOf(starts: number[]): number {
    if (starts.length === 0) return this.unit([], -1); // never matches
    let s = starts[starts.length - 1]!;
    for (let i = starts.length - 2; i >= 0; i--) s = this.split(starts[i]!, s);
    return s;
  }

  compileSet(set: CodeSet, next: number): number {
    const real = setMinus(set, SURROGATES);
    const alts: number[] = [];
    const bmp = setIntersect(real, BMP);
    if (bmp.length > 0) alts.push(this.unit([...bmp], next));
    const astral = setIntersect(real, ASTRAL);
    if (astral.length > 0) {
      // Surrogate pairs, grouped by identical low-surrogate range.
      const byLow = new Map<string, number[]>();
      const addPair = (hLo: number, hHi: number, lLo: number, lHi: number): void => {
        const key = `${lLo}-${lHi}`;
        let hs = byLow.get(key);
        if (hs === undefined) byLow.set(key, (hs = []));
        hs.push(hLo, hHi);
      };
      for (let i = 0; i < astral.length; i += 2) {
        const a = astral[i]! - 0x10000;
        const b = astral[i + 1]! - 0x10000;
        const ha = 0xd800 + (a >> 10);
        const la = 0xdc00 + (a & 0x3ff);
        const hb = 0xd800 + (b >> 10);
        const lb = 0xdc00 + (b & 0x3ff);
        if (ha === hb) addPair(ha, ha, la, lb);
        else {
          addPair(ha, ha, la, 0xdfff);
          if (ha + 1 <= hb - 1) addPair(ha + 1, hb - 1, 0xdc00, 0xdfff);
          addPair(hb, hb, 0xdc00, lb);
        }
      }
      for (const [key, hs] of byLow) {
        const [lLo, lHi] = key.split('-').map(Number) as [number, number];
        const low = this.unit([lLo, lHi], next);
        alts.push(this.unit(normalise(hs), low));
      }
    }
    if (setHas(set, 0xfffd)) {
      alts.push(this.unit([0xd800, 0xdbff], this.assert(A_NOT_NEXT_LOW, next)));
      alts.push(this.assert(A_NOT_PREV_HIGH, this.unit([0xdc00, 0xdfff], next)));
    }
    return this.anyOf(alts);
  }

  compile(re: Re, next: number): number {
    switch (re.k) {
      case 'cap':
        return this.compile(re.sub, next);
      case 'empty':
        return next;
      case 'assert':
        return this.assert(ASSERT_CODES[re.a], next);
      case 'set':
        return this.compileSet(re.set, next);
      case 'lit': {
        let s = next;
        for (let i = re.cps.length - 1; i >= 0; i--) {
          const cp = re.cps[i]!;
          if (re.fold) {
            const pairs: number[] = [];
            for (const m of foldOrbit(cp)) pairs.push(m, m);
            s = this.compileSet(normalise(pairs), s);
          } else s = this.compileSet([cp, cp], s);
        }
        return s;
      }
      case 'cat': {
        let s = next;
        for (let i = re.subs.length - 1; i >= 0; i--) s = this.compile(re.subs[i]!, s);
        return s;
      }
      case 'alt':
        return this.anyOf(re.subs.map((b) => this.compile(b, next)));
      case 'rep': {
        let cur = next;
        if (re.max === -1) {
          // x*: a loop through a SPLIT whose first branch is patched once x is compiled.
          const loop = this.split(-1, next);
          this.out[loop] = this.compile(re.sub, loop);
          cur = loop;
        } else {
          for (let k = 0; k < re.max - re.min; k++) cur = this.split(this.compile(re.sub, cur), next);
        }
        for (let k = 0; k < re.min; k++) cur = this.compile(re.sub, cur);
        return cur;
      }
    }
  }
}

/** Sorted, merged pairs (small helper; input pairs may overlap). */
function normalise(pairs: number[]): number[] {
  const idx: number[] = [];
  for (let i = 0; i < pairs.length; i += 2) idx.push(i);
  idx.sort((a, b) => pairs[a]! - pairs[b]!);
  const out: number[] = [];
  for (const i of idx) {
    const lo = pairs[i]!;
    const hi = pairs[i + 1]!;
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) {
      if (hi > out[last]!) out[last] = hi;
    } else out.push(lo, hi);
  }
  return out;
}

const UNKNOWN = 0;
const MATCHED = -1;
const DEAD = -2;
/** Bound on transition-table cells (Int32): 4 MiB per regex at most. */
const MAX_CELLS = 1 << 20;
/**
 * Rows the table starts with; it doubles as states are discovered. Most
 * rule regexes settle at a few dozen states, so a table sized for the bound
 * up front held megabytes of never-used (but zero-filled, hence resident)
 * cells per regex.
 */
const INITIAL_ROWS = 16;

/**
 * Linear-time matcher. `anchored`: the whole string must match (label
 * matchers, compiled as `\A(?:re)\z`); otherwise a match may start anywhere.
 */
export class LazyDfa {
  private readonly op: Int8Array;
  private readonly out: Int32Array;
  private readonly arg: Int32Array;
  private readonly startNfa: number;
  private readonly needPrev: boolean;
  /** Code unit → class: blocks[u >> 8] is a class (>= 0) or ~index of a 256-entry sub-table. */
  private readonly blocks: Int32Array;
  private readonly sub: Uint16Array;
  private readonly nClasses: number;
  private readonly classKind: Uint8Array;
  /** Per class, the UNIT states that accept it. */
  private readonly classUnits: Int32Array[];
  private readonly maxStates: number;
  /** Rows allocated in `trans`/`eot` (state ids 0..rows-1); grows up to maxStates + 1. */
  private rows: number;
  private trans: Int32Array;
  private eot: Int8Array;
  private stateSets: Int32Array[] = [];
  private statePrev: number[] = [];
  private stateIds = new Map<string, number>();
  // Scratch for closure computation.
  private readonly mark: Int32Array;
  private markGen = 0;
  private readonly stack: Int32Array;
  /** How many times the state cache was flushed (for tests and diagnostics). */
  flushes = 0;

  constructor(
    re: Re,
    private readonly anchored: boolean,
  ) {
    const b = new NfaBuilder();
    const m = b.match();
    const body = anchored
      ? ({ k: 'cat', subs: [{ k: 'assert', a: 'bot' }, re, { k: 'assert', a: 'eot' }] } as Re)
      : re;
    this.startNfa = b.compile(body, m);
    const n = b.op.length;
    this.op = Int8Array.from(b.op);
    this.out = Int32Array.from(b.out);
    this.arg = Int32Array.from(b.arg);
    let needPrev = false;
    for (let i = 0; i < n; i++) {
      if (b.op[i] === OP_ASSERT) {
        const a = b.arg[i]!;
        if (a === A_BOT || a === A_BOL || a === A_WB || a === A_NWB || a === A_NOT_PREV_HIGH) needPrev = true;
      }
    }
    this.needPrev = needPrev;
    this.mark = new Int32Array(n);
    // Every push follows an NFA edge (at most two per state) or seeds the set.
    this.stack = new Int32Array(3 * n + 4);

    // Partition the code units into classes no UNIT range or assertion kind splits.
    const bounds = new Set<number>(KIND_BOUNDARIES);
    for (const r of b.ranges) {
      for (let i = 0; i < r.length; i += 2) {
        bounds.add(r[i]!);
        if (r[i + 1]! + 1 <= 0xffff) bounds.add(r[i + 1]! + 1);
      }
    }
    const starts = [...bounds].sort((x, y) => x - y);
    const sigs: number[][] = starts.map(() => []);
    const findInterval = (u: number): number => {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= u) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    for (let s = 0; s < n; s++) {
      if (b.op[s] !== OP_UNIT) continue;
      const r = b.ranges[b.arg[s]!]!;
      for (let i = 0; i < r.length; i += 2) {
        for (let iv = findInterval(r[i]!); iv < starts.length && starts[iv]! <= r[i + 1]!; iv++) sigs[iv]!.push(s);
      }
    }
    const classOfSig = new Map<string, number>();
    const intervalClass = new Int32Array(starts.length);
    const kinds: number[] = [];
    const units: Int32Array[] = [];
    for (let iv = 0; iv < starts.length; iv++) {
      const kind = kindOfUnit(starts[iv]!);
      const key = `${kind}:${sigs[iv]!.join(',')}`;
      let c = classOfSig.get(key);
      if (c === undefined) {
        c = kinds.length;
        classOfSig.set(key, c);
        kinds.push(kind);
        units.push(Int32Array.from(sigs[iv]!));
      }
      intervalClass[iv] = c;
    }
    this.nClasses = kinds.length;
    this.classKind = Uint8Array.from(kinds);
    this.classUnits = units;

    const blocks = new Int32Array(256);
    const subs: number[] = [];
    let iv = 0;
    for (let blk = 0; blk < 256; blk++) {
      const lo = blk << 8;
      const hi = lo + 255;
      while (iv + 1 < starts.length && starts[iv + 1]! <= lo) iv++;
      // Uniform block: one interval covers it.
      if (iv + 1 >= starts.length || starts[iv + 1]! > hi) {
        blocks[blk] = intervalClass[iv]!;
        continue;
      }
      blocks[blk] = ~(subs.length >> 8);
      let j = iv;
      for (let u = lo; u <= hi; u++) {
        while (j + 1 < starts.length && starts[j + 1]! <= u) j++;
        subs.push(intervalClass[j]!);
      }
    }
    this.blocks = blocks;
    this.sub = Uint16Array.from(subs);

    this.maxStates = Math.max(64, Math.min(10_000, Math.floor(MAX_CELLS / this.nClasses)));
    this.rows = Math.min(INITIAL_ROWS, this.maxStates + 1);
    this.trans = new Int32Array(this.rows * this.nClasses);
    this.eot = new Int8Array(this.rows);
    this.resetCache();
  }

  /** Number of NFA states (for diagnostics). */
  get nfaSize(): number {
    return this.op.length;
  }

  get classCount(): number {
    return this.nClasses;
  }

  /** Transition-table cells allocated now (for tests and diagnostics). */
  get tableCells(): number {
    return this.trans.length;
  }

  /** Room for state `id`: the table doubles (copying the known transitions) up to the bound. */
  private ensureRow(id: number): void {
    if (id < this.rows) return;
    let rows = this.rows;
    while (rows <= id) rows *= 2;
    rows = Math.min(rows, this.maxStates + 1);
    const trans = new Int32Array(rows * this.nClasses);
    trans.set(this.trans);
    const eot = new Int8Array(rows);
    eot.set(this.eot);
    this.trans = trans;
    this.eot = eot;
    this.rows = rows;
  }

  private resetCache(): void {
    this.stateSets = [new Int32Array(0)];
    this.statePrev = [0];
    this.stateIds.clear();
    this.trans.fill(UNKNOWN);
    this.eot.fill(0);
    this.intern(Int32Array.of(this.startNfa), K_EDGE); // state 1
  }

  /** Id of the state (set, prev); -1 when it is new and the cache is full. */
  private intern(set: Int32Array, prev: number): number {
    const key = `${prev}|${set.join(',')}`;
    const hit = this.stateIds.get(key);
    if (hit !== undefined) return hit;
    const id = this.stateSets.length;
    if (id > this.maxStates) return -1;
    this.ensureRow(id);
    this.stateSets.push(set);
    this.statePrev.push(prev);
    this.stateIds.set(key, id);
    return id;
  }

  /**
   * Epsilon closure of `set` given the kinds of the units around the position.
   * Leaves every reached state marked with `markGen`; returns whether MATCH is reached.
   */
  private closure(set: Int32Array, prev: number, next: number): boolean {
    const gen = ++this.markGen;
    const { mark, stack, op, out, arg } = this;
    let sp = 0;
    let matched = false;
    for (let i = set.length - 1; i >= 0; i--) stack[sp++] = set[i]!;
    while (sp > 0) {
      const s = stack[--sp]!;
      if (mark[s] === gen) continue;
      mark[s] = gen;
      switch (op[s]) {
        case OP_UNIT:
          break;
        case OP_MATCH:
          matched = true;
          break;
        case OP_SPLIT:
          if (mark[arg[s]!] !== gen) stack[sp++] = arg[s]!;
          if (mark[out[s]!] !== gen) stack[sp++] = out[s]!;
          break;
        default:
          if (assertHolds(arg[s]!, prev, next) && mark[out[s]!] !== gen) stack[sp++] = out[s]!;
      }
    }
    return matched;
  }

  private computeTransition(state: number, cls: number): number {
    const set = this.stateSets[state]!;
    const prev = this.statePrev[state]!;
    if (this.closure(set, prev, this.classKind[cls]!)) return MATCHED;
    // The closure's UNIT states that accept this class advance.
    const gen = this.markGen;
    const nextStates: number[] = [];
    for (const s of this.classUnits[cls]!) if (this.mark[s] === gen) nextStates.push(this.out[s]!);
    if (!this.anchored) nextStates.push(this.startNfa);
    if (nextStates.length === 0) return DEAD;
    nextStates.sort((x, y) => x - y);
    let w = 0;
    for (let i = 0; i < nextStates.length; i++) if (i === 0 || nextStates[i] !== nextStates[i - 1]) nextStates[w++] = nextStates[i]!;
    nextStates.length = w;
    const nextSet = Int32Array.from(nextStates);
    const nextPrev = this.needPrev ? this.classKind[cls]! : 0;
    const id = this.intern(nextSet, nextPrev);
    if (id < 0) {
      // Cache full: start over (RE2 does the same); the caller continues from the returned id.
      this.flushes++;
      this.resetCache();
      return this.intern(nextSet, nextPrev);
    }
    this.trans[state * this.nClasses + cls] = id;
    return id;
  }

  private endMatches(state: number): boolean {
    const cached = this.eot[state]!;
    if (cached !== 0) return cached === 1;
    const m = this.closure(this.stateSets[state]!, this.statePrev[state]!, K_EDGE);
    this.eot[state] = m ? 1 : 2;
    return m;
  }

  test(s: string): boolean {
    const { blocks, sub, nClasses } = this;
    let trans = this.trans;
    let st = 1;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const u = s.charCodeAt(i);
      const b = blocks[u >>> 8]!;
      const c = b >= 0 ? b : sub[(~b << 8) | (u & 0xff)]!;
      let nx = trans[st * nClasses + c]!;
      if (nx <= 0) {
        if (nx === UNKNOWN) {
          nx = this.computeTransition(st, c);
          trans = this.trans; // a new state may have grown (replaced) the table
        }
        if (nx === MATCHED) return true;
        if (nx === DEAD) return false;
      }
      st = nx;
    }
    return this.endMatches(st);
  }
}
