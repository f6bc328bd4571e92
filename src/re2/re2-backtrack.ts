/**
 * The fast tier: an RE2 tree translated to a V8 (backtracking) RegExp with
 * identical match semantics, plus a worst-case cost bound that says for which
 * line lengths backtracking provably stays cheap.
 *
 * Semantics carried over explicitly, never left to JS defaults:
 * - sets are emitted as explicit ranges (RE2 `.` is "anything but \n"; JS `.`
 *   also excludes \r and U+2028/9; RE2 `\s` lacks \v);
 * - `^`/`$` (text) are JS `^`/`$` without the m flag; `(?m)^`/`$` become
 *   lookarounds on `\n` only (JS m-mode also breaks at \r);
 * - `(?i)` is expanded into fold-closed classes, except when the *whole*
 *   pattern is uniformly case-insensitive: then the `iu` flags do exactly the
 *   RE2 folding (ES `iu` canonicalises by simple case folding) and are faster;
 * - `\b`/`\B` are ASCII, as JS `\b` is without the i flag;
 * - lone surrogates are matched as U+FFFD (Go's decoding of them).
 * The `u` flag is dropped when the pattern provably cannot tell UTF-16 units
 * from code points (faster in V8).
 */
import { type CodeSet, setHas, setIntersect, setMinus, setNegate, setOf, setUnion } from './code-set.js';
import { type Re, hasAssert, nullable } from './re2-syntax.js';
import { foldOrbit, hasFold, isFoldClosed } from './unicode-data.js';

export type JsMode = 'iu' | 'u' | '';

const SURROGATES: CodeSet = [0xd800, 0xdfff];
const ASTRAL_AND_FFFD: CodeSet = [0xfffd, 0xfffd, 0x10000, 0x10ffff];
const BMP_NON_SURROGATE: CodeSet = [0, 0xd7ff, 0xe000, 0xffff];

function isAsciiAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Every set in the pattern, with whether it is the direct body of `*`/`+`. */
function forEachSet(re: Re, fn: (set: CodeSet, starBody: boolean) => void, starBody = false): void {
  switch (re.k) {
    case 'set':
      fn(re.set, starBody);
      break;
    case 'lit':
      if (re.fold) for (const c of re.cps) fn(orbitSet(c), false);
      else for (const c of re.cps) fn([c, c], false);
      break;
    case 'cat':
    case 'alt':
      for (const s of re.subs) forEachSet(s, fn);
      break;
    case 'rep':
      forEachSet(re.sub, fn, re.max === -1 && re.min <= 1);
      break;
    default:
      break;
  }
}

function orbitSet(cp: number): CodeSet {
  return setOf(...foldOrbit(cp));
}

/** Uniformly case-insensitive: every literal folds (or has no case), every set is fold-closed, no \b/\B. */
function uniformFold(re: Re): boolean {
  let sawFold = false;
  let ok = true;
  const walk = (r: Re): void => {
    if (!ok) return;
    switch (r.k) {
      case 'lit':
        if (r.fold) sawFold = true;
        else if (r.cps.some(hasFold)) ok = false;
        break;
      case 'set':
        if (!isFoldClosed(r.set)) ok = false;
        break;
      case 'assert':
        if (r.a === 'wb' || r.a === 'nwb') ok = false;
        break;
      case 'cat':
      case 'alt':
        r.subs.forEach(walk);
        break;
      case 'rep':
        walk(r.sub);
        break;
      default:
        break;
    }
  };
  walk(re);
  return ok && sawFold;
}

/**
 * Without the u flag V8 matches code units. That is equivalent when every set
 * either excludes all astral code points and U+FFFD (so never touches a
 * surrogate), or includes them all and is the body of `*`/`+` (a run of units
 * is then a run of code points), and there is no `\B` (which would hold
 * between the halves of a pair).
 */
function unitSafe(re: Re): boolean {
  if (hasAssert(re, ['nwb'])) return false;
  let ok = true;
  forEachSet(re, (set, starBody) => {
    const astral = setIntersect(set, ASTRAL_AND_FFFD);
    if (astral.length === 0) return;
    if (starBody && astral.length === 4 && astral[0] === 0xfffd && astral[1] === 0xfffd && astral[2] === 0x10000 && astral[3] === 0x10ffff) return;
    ok = false;
  });
  return ok;
}

export function chooseMode(re: Re): JsMode {
  if (uniformFold(re)) return 'iu';
  if (unitSafe(re)) return '';
  return 'u';
}

function escapeCp(c: number, mode: JsMode): string {
  if (isAsciiAlnum(c)) return String.fromCharCode(c);
  if (mode !== '') return `\\u{${c.toString(16)}}`;
  return `\\u${c.toString(16).padStart(4, '0')}`;
}

function classBody(ranges: CodeSet, mode: JsMode): string {
  let out = '';
  for (let i = 0; i < ranges.length; i += 2) {
    const lo = ranges[i]!;
    const hi = ranges[i + 1]!;
    out += escapeCp(lo, mode);
    if (hi > lo) out += (hi > lo + 1 ? '-' : '') + escapeCp(hi, mode);
  }
  return out;
}

function emitSet(set: CodeSet, mode: JsMode): string {
  let target: CodeSet;
  let universe: CodeSet;
  if (mode === '') {
    // BMP units only; sets that hold all astral code points also take every surrogate unit.
    const bmp = setIntersect(set, BMP_NON_SURROGATE);
    target = setHas(set, 0x10000) ? setUnion(bmp, SURROGATES) : bmp;
    universe = [0, 0xffff];
  } else {
    const real = setMinus(set, SURROGATES);
    target = setHas(set, 0xfffd) ? setUnion(real, SURROGATES) : real;
    universe = [0, 0x10ffff];
  }
  if (target.length === 0) return '[]';
  const complement = setIntersect(setNegate(target), universe);
  if (complement.length === 0) return '[^]';
  if (complement.length < target.length) return `[^${classBody(complement, mode)}]`;
  if (target.length === 2 && target[0] === target[1]) return escapeCp(target[0]!, mode);
  return `[${classBody(target, mode)}]`;
}

/** Precedence of an emitted piece: 0 alternation, 1 concatenation (or not quantifiable), 2 atom. */
interface Piece {
  src: string;
  prec: number;
}

function emit(re: Re, mode: JsMode): Piece {
  switch (re.k) {
    case 'cap':
      // A plain JS capturing group; callers map group numbers (RE2 and JS number groups alike).
      return { src: `(${emit(re.sub, mode).src})`, prec: 2 };
    case 'empty':
      return { src: '(?:)', prec: 2 };
    case 'assert':
      // JS can't quantify assertions directly (RE2 can: `^*`), so they rank below atoms.
      switch (re.a) {
        case 'bot':
          return { src: '^', prec: 1 };
        case 'eot':
          return { src: '$', prec: 1 };
        case 'bol':
          return { src: '(?<![^\\n])', prec: 1 };
        case 'eol':
          return { src: '(?![^\\n])', prec: 1 };
        case 'wb':
          return { src: '\\b', prec: 1 };
        case 'nwb':
          return { src: '\\B', prec: 1 };
      }
      break;
    case 'set':
      return { src: emitSet(re.set, mode), prec: 2 };
    case 'lit': {
      let src = '';
      for (const c of re.cps) {
        if (re.fold && mode !== 'iu') src += emitSet(orbitSet(c), mode);
        else if (mode === '' && c > 0xffff) src += escapeCp(0xd800 + ((c - 0x10000) >> 10), mode) + escapeCp(0xdc00 + ((c - 0x10000) & 0x3ff), mode);
        else if (c === 0xfffd || (c >= 0xd800 && c <= 0xdfff)) src += emitSet([c, c], mode); // lone surrogates count as U+FFFD
        else src += escapeCp(c, mode);
      }
      return { src, prec: re.cps.length === 1 ? 2 : 1 };
    }
    case 'cat':
      return { src: re.subs.map((s) => wrap(emit(s, mode), 1)).join(''), prec: 1 };
    case 'alt':
      return { src: re.subs.map((s) => emit(s, mode).src).join('|'), prec: 0 };
    case 'rep': {
      const body = wrap(emit(re.sub, mode), 2);
      let q: string;
      if (re.min === 0 && re.max === -1) q = '*';
      else if (re.min === 1 && re.max === -1) q = '+';
      else if (re.min === 0 && re.max === 1) q = '?';
      else if (re.max === -1) q = `{${re.min},}`;
      else if (re.min === re.max) q = `{${re.min}}`;
      else q = `{${re.min},${re.max}}`;
      // Laziness changes no yes/no answer, but it picks the submatches (captures.ts).
      return { src: body + q + (re.greedy ? '' : '?'), prec: 1 };
    }
  }
  throw new Error('unreachable');
}

function wrap(p: Piece, need: number): string {
  return p.prec >= need ? p.src : `(?:${p.src})`;
}

/** The RE2 tree as a JS RegExp (unanchored search semantics, same as RE2 `test`). */
export function toJsRegExp(re: Re, mode: JsMode = chooseMode(re)): RegExp {
  return new RegExp(emit(re, mode).src, mode);
}

// ---------------------------------------------------------------------------
// Worst-case backtracking cost

/** Code points a match can start with (over-approximation; undefined = nullable/unknown start). */
function firstSet(re: Re): CodeSet | undefined {
  switch (re.k) {
    case 'lit':
      return re.fold ? orbitSet(re.cps[0]!) : [re.cps[0]!, re.cps[0]!];
    case 'set':
      return re.set;
    case 'cat': {
      let acc: CodeSet = [];
      for (const s of re.subs) {
        if (s.k === 'assert') continue;
        const f = firstSet(s);
        if (f === undefined) return undefined;
        acc = setUnion(acc, f);
        if (!nullable(s)) return acc;
      }
      return undefined;
    }
    case 'alt': {
      let acc: CodeSet = [];
      for (const s of re.subs) {
        const f = firstSet(s);
        if (f === undefined) return undefined;
        acc = setUnion(acc, f);
      }
      return acc;
    }
    case 'rep':
      return re.min === 0 ? undefined : firstSet(re.sub);
    default:
      return undefined;
  }
}

interface Cost {
  /** Upper bound on the distinct ways the node can match from one position. */
  ways: number;
  /** Upper bound on the backtracking steps spent inside the node from one position, over all of them. */
  work: number;
}

const CAP = 1e18;

function cost(re: Re, n: number): Cost {
  switch (re.k) {
    case 'cap':
      return cost(re.sub, n);
    case 'empty':
    case 'assert':
    case 'set':
      return { ways: 1, work: 1 };
    case 'lit':
      return { ways: 1, work: re.cps.length };
    case 'cat': {
      let ways = 1;
      let work = 0;
      for (const s of re.subs) {
        const c = cost(s, n);
        work = Math.min(CAP, work + ways * c.work);
        ways = Math.min(CAP, ways * c.ways);
      }
      return { ways, work };
    }
    case 'alt': {
      let ways = 0;
      let work = 0;
      const costs = re.subs.map((s) => cost(s, n));
      for (const c of costs) {
        ways += c.ways;
        work += c.work;
      }
      // Branches that each match one way and start with disjoint characters: at most one can match.
      if (costs.every((c) => c.ways <= 1)) {
        const firsts = re.subs.map(firstSet);
        let disjoint = firsts.every((f) => f !== undefined);
        let seen: CodeSet = [];
        for (const f of firsts) {
          if (!disjoint || f === undefined) break;
          if (setIntersect(seen, f).length > 0) disjoint = false;
          seen = setUnion(seen, f);
        }
        if (disjoint) ways = 1;
      }
      return { ways: Math.min(CAP, ways), work: Math.min(CAP, work) };
    }
    case 'rep': {
      const c = cost(re.sub, n);
      if (re.max === -1) {
        // Safe only over a sub-pattern that matches one way and consumes input: then the
        // iteration count alone determines the match (at most n+1 of them).
        if (c.ways > 1 || nullable(re.sub)) return { ways: CAP, work: CAP };
        return { ways: n + 1, work: Math.min(CAP, (n + 1) * c.work) };
      }
      if (c.ways <= 1) return { ways: re.max - re.min + 1, work: Math.min(CAP, re.max * c.work) };
      let ways = 0;
      let work = 0;
      let p = 1;
      for (let k = 0; k <= re.max && p < CAP; k++) {
        if (k >= re.min) ways += p;
        if (k > 0) work += p * c.work;
        p *= c.ways;
      }
      if (p >= CAP) return { ways: CAP, work: CAP };
      return { ways: Math.min(CAP, ways), work: Math.min(CAP, work) };
    }
  }
}

/**
 * A loop at the very end of the pattern that matches one way per iteration
 * count: once entered it either fails within `min` iterations or consumes
 * greedily and ends the whole search with a match — so its consuming work
 * is paid once per search, not once per way of reaching it.
 */
function trailingLoopCost(last: Re, n: number): { each: number; once: number } | undefined {
  if (last.k !== 'rep') return undefined;
  const c = cost(last.sub, n);
  if (c.ways > 1 || nullable(last.sub)) return undefined;
  const most = last.max === -1 ? n + 1 : last.max;
  return { each: Math.max(last.min, 1) * c.work, once: most * c.work };
}

/** Worst-case steps of an unanchored backtracking search over a line of `n` code units. */
export function backtrackCost(re: Re, n: number): number {
  const subs = re.k === 'cat' ? re.subs : [re];
  const tail = trailingLoopCost(subs[subs.length - 1]!, n);
  if (tail === undefined) return Math.min(CAP, (n + 1) * cost(re, n).work);
  let ways = 1;
  let work = 0;
  for (let i = 0; i < subs.length - 1; i++) {
    const c = cost(subs[i]!, n);
    work = Math.min(CAP, work + ways * c.work);
    ways = Math.min(CAP, ways * c.ways);
  }
  return Math.min(CAP, (n + 1) * (work + ways * tail.each) + tail.once);
}

/**
 * Longest line length for which the worst-case backtracking work stays within
 * `budget` steps (0 when even short lines could blow up). Cost is monotone in n.
 */
export function maxBacktrackLength(re: Re, budget: number, limit = 1 << 20): number {
  if (backtrackCost(re, 0) > budget) return -1;
  let lo = 0;
  let hi = limit;
  if (backtrackCost(re, hi) <= budget) return hi;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (backtrackCost(re, mid) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
