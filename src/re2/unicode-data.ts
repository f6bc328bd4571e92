/**
 * Unicode data RE2 needs (case-folding orbits, \p{..} classes, Perl and POSIX
 * classes), derived from the JS engine's own Unicode tables instead of
 * shipping copies: ES `iu` regexps canonicalise with Unicode *simple case
 * folding*, the same relation Go's unicode.SimpleFold orbits (and so RE2's
 * `(?i)`) are built from. Computed lazily and cached for the process.
 */
import { type CodeSet, FULL_SET, setFromRanges, setHas, setSize, setUnion } from './code-set.js';
import { FOLD_ORBITS } from './unicode-fold-data.js';

/** `\d`, `\s`, `\w` (RE2: ASCII only). */
export const PERL_CLASSES: Readonly<Record<string, CodeSet>> = {
  d: [0x30, 0x39],
  s: setFromRanges([0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20]),
  w: setFromRanges([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]),
};

/** `[[:name:]]` (RE2: ASCII only). */
export const POSIX_CLASSES: Readonly<Record<string, CodeSet>> = {
  alnum: setFromRanges([0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a]),
  alpha: setFromRanges([0x41, 0x5a, 0x61, 0x7a]),
  ascii: [0x00, 0x7f],
  blank: setFromRanges([0x09, 0x09, 0x20, 0x20]),
  cntrl: setFromRanges([0x00, 0x1f, 0x7f, 0x7f]),
  digit: [0x30, 0x39],
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: setFromRanges([0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e]),
  space: setFromRanges([0x09, 0x0d, 0x20, 0x20]),
  upper: [0x41, 0x5a],
  word: setFromRanges([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]),
  xdigit: setFromRanges([0x30, 0x39, 0x41, 0x46, 0x61, 0x66]),
};

/** Go's unicode.Categories names (RE2 `\pL`, `\p{Lu}`, ...). */
const GENERAL_CATEGORIES = new Set([
  'C', 'Cc', 'Cf', 'Co', 'Cs', 'L', 'Ll', 'Lm', 'Lo', 'Lt', 'Lu', 'M', 'Mc', 'Me', 'Mn',
  'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Pe', 'Pf', 'Pi', 'Po', 'Ps', 'S', 'Sc', 'Sk',
  'Sm', 'So', 'Z', 'Zl', 'Zp', 'Zs',
]);

// ---------------------------------------------------------------------------
// Case folding

interface FoldData {
  /** Orbit (sorted members, length >= 2) of every code point that has one. */
  orbits: Map<number, readonly number[]>;
  /** BMP code unit → canonical unit of its orbit (identity when none). */
  canon: Uint16Array;
}

let foldData: FoldData | undefined;

function cpEscape(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function singleCodePoint(s: string): number | undefined {
  const cp = s.codePointAt(0);
  if (cp === undefined) return undefined;
  return s.length === (cp > 0xffff ? 2 : 1) ? cp : undefined;
}

/**
 * Case-folding orbits derived from the JS engine's own tables: every set of
 * code points that simple case folding makes equal, as sorted arrays. Slow
 * (~70 ms: it probes all of planes 0 and 1), so the sidecar loads the same
 * data precomputed in unicode-fold-data.ts; a test keeps the two equal on the
 * running Node, and `node scripts/gen-unicode-fold.mjs` regenerates it.
 */
export function deriveFoldOrbits(): number[][] {
  // Every member of a non-trivial orbit changes under toLowerCase or
  // toUpperCase, or is the single-code-point image of one that does. Cased
  // letters all live in planes 0 and 1.
  const candSet = new Set<number>();
  for (let c = 0; c <= 0x1ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const ch = String.fromCodePoint(c);
    const lo = ch.toLowerCase();
    const up = ch.toUpperCase();
    if (lo === ch && up === ch) continue;
    candSet.add(c);
    const l = singleCodePoint(lo);
    if (l !== undefined) candSet.add(l);
    const u = singleCodePoint(up);
    if (u !== undefined) candSet.add(u);
  }
  const cands = [...candSet].sort((a, b) => a - b);
  let all = '';
  for (let i = 0; i < cands.length; i += 2048) all += String.fromCodePoint(...cands.slice(i, i + 2048));

  const seen = new Set<number>();
  const out: number[][] = [];
  for (const c of cands) {
    if (seen.has(c)) continue;
    const re = new RegExp(cpEscape(c), 'giu');
    const members: number[] = [];
    for (const m of all.matchAll(re)) members.push(m[0].codePointAt(0)!);
    for (const m of members) seen.add(m);
    if (members.length < 2) continue;
    members.sort((a, b) => a - b);
    out.push(members);
  }
  return out.sort((a, b) => a[0]! - b[0]!);
}

function buildFoldData(orbitList: readonly (readonly number[])[]): FoldData {
  const orbits = new Map<number, readonly number[]>();
  for (const members of orbitList) for (const m of members) orbits.set(m, members);

  const canon = new Uint16Array(0x10000);
  for (let u = 0; u < 0x10000; u++) canon[u] = u;
  for (const [cp, members] of orbits) {
    if (cp > 0xffff) continue;
    // Prefer the ASCII lower-case member so ASCII literals stay readable.
    let rep = -1;
    for (const m of members) if (m >= 0x61 && m <= 0x7a) rep = m;
    if (rep < 0) rep = members[0]!;
    if (rep <= 0xffff) canon[cp] = rep;
  }
  return { orbits, canon };
}

function fold(): FoldData {
  foldData ??= buildFoldData(FOLD_ORBITS);
  return foldData;
}

/** The simple-case-folding orbit of `cp` (just `[cp]` when it has no other case). */
export function foldOrbit(cp: number): readonly number[] {
  return fold().orbits.get(cp) ?? [cp];
}

/** True when `cp` has other case variants. */
export function hasFold(cp: number): boolean {
  return fold().orbits.has(cp);
}

/** BMP code unit → canonical unit of its fold orbit; identity where none. */
export function foldCanonTable(): Uint16Array {
  return fold().canon;
}

/** Adds every case variant of every member (Go's appendFoldedClass). */
export function foldClosure(set: CodeSet): CodeSet {
  const { orbits } = fold();
  const extra: number[] = [];
  if (setSize(set) > orbits.size) {
    // Large set: walk the orbit table instead of the set.
    for (const [cp, o] of orbits) if (setHas(set, cp)) for (const m of o) extra.push(m, m);
  } else {
    for (let i = 0; i < set.length; i += 2) {
      // Cased code points are all below 0x20000.
      const top = Math.min(set[i + 1]!, 0x1ffff);
      for (let c = set[i]!; c <= top; c++) {
        const o = orbits.get(c);
        if (o !== undefined) for (const m of o) extra.push(m, m);
      }
    }
  }
  return extra.length === 0 ? set : setUnion(set, setFromRanges(extra));
}

/** True when the set already contains every case variant of its members. */
export function isFoldClosed(set: CodeSet): boolean {
  for (const [cp, o] of fold().orbits) {
    if (setHas(set, cp)) for (const m of o) if (!setHas(set, m)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// \p{...}

/** Script long names that happen to have four letters (all other 4-letter names are ISO aliases). */
const FOUR_LETTER_SCRIPTS = new Set(['Cham', 'Kawi', 'Lisu', 'Modi', 'Newa', 'Thai', 'Toto']);

const classCache = new Map<string, CodeSet>();
let allCodePoints: string | undefined;

/** Every non-surrogate code point in order; index → code point is computable. */
function allCodePointsString(): string {
  if (allCodePoints === undefined) {
    const chunk: number[] = [];
    let s = '';
    for (let c = 0; c <= 0x10ffff; c++) {
      if (c === 0xd800) c = 0xe000;
      chunk.push(c);
      if (chunk.length === 4096) {
        s += String.fromCodePoint(...chunk);
        chunk.length = 0;
      }
    }
    s += String.fromCodePoint(...chunk);
    allCodePoints = s;
  }
  return allCodePoints;
}

function indexToCodePoint(i: number): number {
  if (i < 0xd800) return i;
  if (i < 0xf800) return i + 0x800;
  return 0x10000 + ((i - 0xf800) >> 1);
}

function materialise(jsClass: string): CodeSet {
  const re = new RegExp(`${jsClass}+`, 'gu');
  const s = allCodePointsString();
  const pairs: number[] = [];
  for (const m of s.matchAll(re)) {
    const start = m.index;
    const end = start + m[0].length; // exclusive
    const last = s.codePointAt(end - 1)! >= 0xdc00 && s.codePointAt(end - 1)! <= 0xdfff ? end - 2 : end - 1;
    pairs.push(indexToCodePoint(start), indexToCodePoint(last));
  }
  return setFromRanges(pairs);
}

/**
 * The code points of RE2's `\p{name}`: a Go general category (`L`, `Lu`, ...;
 * `C` is Cc|Cf|Co|Cs as in Go, without unassigned code points), `Any`, or a
 * script name (`Greek`, `Latin`, ...). Undefined when RE2 would reject it.
 */
export function unicodeClass(name: string): CodeSet | undefined {
  const hit = classCache.get(name);
  if (hit !== undefined) return hit;
  let set: CodeSet | undefined;
  if (name === 'Any') set = FULL_SET;
  else if (name === 'C') set = setUnion(setUnion(materialise('\\p{gc=Cc}'), materialise('\\p{gc=Cf}')), materialise('\\p{gc=Co}'));
  else if (name === 'Cs') set = [0xd800, 0xdfff];
  else if (GENERAL_CATEGORIES.has(name)) set = materialise(`\\p{gc=${name}}`);
  else if (/^[A-Z][A-Za-z]*(?:_[A-Z][A-Za-z]*)*$/.test(name) && (name.length !== 4 || FOUR_LETTER_SCRIPTS.has(name))) {
    // Go knows scripts by their long names only; JS also takes the 4-letter ISO codes (Grek, Latn).
    try {
      set = materialise(`\\p{Script=${name}}`);
    } catch {
      set = undefined;
    }
  }
  if (set !== undefined) classCache.set(name, set);
  return set;
}
