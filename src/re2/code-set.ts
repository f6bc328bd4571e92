/**
 * Sets of Unicode code points as sorted, merged, inclusive ranges:
 * `[lo0, hi0, lo1, hi1, ...]` with `hi_i + 1 < lo_{i+1}`. Immutable by
 * convention; every function returns a fresh normalised array. Used by the
 * RE2 parser (classes), the DFA compiler and the JS translator.
 */

export type CodeSet = readonly number[];

export const MAX_CODE_POINT = 0x10ffff;
export const FULL_SET: CodeSet = [0, MAX_CODE_POINT];

/** Normalises arbitrary (possibly overlapping, unsorted) inclusive ranges. */
export function setFromRanges(pairs: readonly number[]): CodeSet {
  const n = pairs.length >> 1;
  if (n === 0) return [];
  const idx: number[] = [];
  for (let i = 0; i < n; i++) idx.push(i);
  idx.sort((a, b) => pairs[2 * a]! - pairs[2 * b]!);
  const out: number[] = [];
  for (const i of idx) {
    const lo = pairs[2 * i]!;
    const hi = pairs[2 * i + 1]!;
    if (hi < lo) continue;
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) {
      if (hi > out[last]!) out[last] = hi;
    } else {
      out.push(lo, hi);
    }
  }
  return out;
}

export function setOf(...cps: number[]): CodeSet {
  const pairs: number[] = [];
  for (const c of cps) pairs.push(c, c);
  return setFromRanges(pairs);
}

export function setUnion(a: CodeSet, b: CodeSet): CodeSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return setFromRanges([...a, ...b]);
}

export function setNegate(a: CodeSet): CodeSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < a.length; i += 2) {
    if (a[i]! > next) out.push(next, a[i]! - 1);
    next = a[i + 1]! + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

export function setIntersect(a: CodeSet, b: CodeSet): CodeSet {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i]!, b[j]!);
    const hi = Math.min(a[i + 1]!, b[j + 1]!);
    if (lo <= hi) out.push(lo, hi);
    if (a[i + 1]! < b[j + 1]!) i += 2;
    else j += 2;
  }
  return out;
}

export function setMinus(a: CodeSet, b: CodeSet): CodeSet {
  return setIntersect(a, setNegate(b));
}

export function setHas(a: CodeSet, cp: number): boolean {
  let lo = 0;
  let hi = (a.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < a[2 * mid]!) hi = mid - 1;
    else if (cp > a[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Number of code points in the set. */
export function setSize(a: CodeSet): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 2) n += a[i + 1]! - a[i]! + 1;
  return n;
}

/** Members of a small set (caller checks the size first). */
export function setMembers(a: CodeSet): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i += 2) for (let c = a[i]!; c <= a[i + 1]!; c++) out.push(c);
  return out;
}
