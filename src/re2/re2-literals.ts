/**
 * Literal analysis of RE2 trees.
 *
 * `literalPlan`: Loki's simplifier (pkg/logql/log/filter.go), generalised: a
 * regex that is literal text, alternations of it, `(?i)` literal text, and
 * such pieces separated by `.*` is answered by substring search instead of a
 * regex — `(?i)(iscsid|iscsi).*(error|failed)` becomes "one of iscsid/iscsi
 * (case-folded), then later on the same line one of error/failed". Exact: the
 * plan matches precisely the lines the regex does (RE2 folding, `.` not
 * crossing `\n`).
 *
 * `requiredLiterals`: for the cross-rule prefilter, groups of strings of which
 * every match must contain one per group (an AND of ORs), like RE2's
 * prefilter. Only a necessary condition; false positives are fine.
 */
import { setMembers, setSize } from './code-set.js';
import { type Re, isAnyChar, isAnyNotNL } from './re2-syntax.js';
import { foldCanonTable, foldOrbit, hasFold } from './unicode-data.js';

/** A literal string; `fold`: case-insensitive with RE2's simple case folding. */
export interface Lit {
  readonly text: string;
  readonly fold: boolean;
}

export type LiteralPlan =
  | { readonly kind: 'always' }
  /**
   * Parts in order, each "any of these literals"; consecutive parts may be
   * separated by anything, which may include `\n` only when `crossNL`.
   * A single part is plain "contains any of".
   */
  | { readonly kind: 'seq'; readonly parts: readonly (readonly Lit[])[]; readonly crossNL: boolean };

const MAX_ALTERNATIVES = 64;
const MAX_LITERAL = 256;

function cpsToString(cps: readonly number[]): string {
  return String.fromCodePoint(...cps);
}

/** Literal sets must be safe for unit-wise search: no U+FFFD (lone surrogates count as it), folds within the BMP. */
function searchable(l: Lit): boolean {
  for (const ch of l.text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0xfffd || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (l.fold && hasFold(cp)) for (const m of foldOrbit(cp)) if (m > 0xffff || cp > 0xffff) return false;
  }
  return true;
}

function hasFoldable(text: string): boolean {
  for (const ch of text) if (hasFold(ch.codePointAt(0)!)) return true;
  return false;
}

function concatLit(a: Lit, b: Lit): Lit | undefined {
  let fold: boolean;
  if (a.fold === b.fold) fold = a.fold;
  else if (a.fold ? !hasFoldable(b.text) : !hasFoldable(a.text)) fold = true;
  else return undefined; // mixed case sensitivity inside one literal
  return { text: a.text + b.text, fold };
}

function cross(a: readonly Lit[], b: readonly Lit[]): Lit[] | undefined {
  if (a.length * b.length > MAX_ALTERNATIVES) return undefined;
  const out: Lit[] = [];
  for (const x of a) {
    for (const y of b) {
      const c = concatLit(x, y);
      if (c === undefined || c.text.length > MAX_LITERAL) return undefined;
      out.push(c);
    }
  }
  return dedupe(out);
}

function dedupe(lits: Lit[]): Lit[] {
  const seen = new Set<string>();
  const out: Lit[] = [];
  for (const l of lits) {
    const k = `${l.fold ? 'i' : 's'}${l.text}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(l);
    }
  }
  return out;
}

/** The exact set of strings `re` matches, when it is a small set of literals. */
function litSet(re: Re): Lit[] | undefined {
  switch (re.k) {
    case 'empty':
      return [{ text: '', fold: false }];
    case 'lit':
      return [{ text: cpsToString(re.cps), fold: re.fold }];
    case 'set': {
      const n = setSize(re.set);
      if (n === 0 || n > 16) return undefined;
      const members = setMembers(re.set);
      // A union of whole fold orbits ((?i)k is {k, K, U+212A}; (?i)[ae] is {a, A, e, E})
      // is one case-insensitive literal per orbit.
      const inSet = new Set(members);
      if (members.every((c) => foldOrbit(c).every((m) => inSet.has(m)))) {
        const out: Lit[] = [];
        for (const c of members) {
          const orbit = foldOrbit(c);
          // One per orbit, preferring the ASCII lower-case member for readability.
          const rep = orbit.find((m) => m >= 0x61 && m <= 0x7a) ?? orbit[0];
          if (rep === c) out.push({ text: String.fromCodePoint(c), fold: orbit.length > 1 });
        }
        if (out.length <= 4) return out;
      }
      return n <= 4 ? members.map((c) => ({ text: String.fromCodePoint(c), fold: false })) : undefined;
    }
    case 'cat': {
      let acc: Lit[] | undefined = [{ text: '', fold: false }];
      for (const s of re.subs) {
        const l = litSet(s);
        if (l === undefined) return undefined;
        acc = cross(acc, l);
        if (acc === undefined) return undefined;
      }
      return acc;
    }
    case 'alt': {
      const out: Lit[] = [];
      for (const s of re.subs) {
        const l = litSet(s);
        if (l === undefined) return undefined;
        out.push(...l);
        if (out.length > MAX_ALTERNATIVES) return undefined;
      }
      return dedupe(out);
    }
    case 'rep': {
      if (re.max === -1 || re.max > 8) return undefined;
      const l = litSet(re.sub);
      if (l === undefined) return undefined;
      let acc: Lit[] | undefined = [{ text: '', fold: false }];
      const out: Lit[] = [];
      for (let k = 0; k <= re.max; k++) {
        if (k >= re.min) out.push(...acc);
        if (k < re.max) {
          acc = cross(acc, l);
          if (acc === undefined) return undefined;
        }
      }
      return out.length > MAX_ALTERNATIVES ? undefined : dedupe(out);
    }
    case 'assert':
      return undefined;
  }
}

type Gap = 'nl' | 'any';

function gapKind(re: Re): Gap | undefined {
  if (re.k !== 'rep' || re.min !== 0 || re.max !== -1 || re.sub.k !== 'set') return undefined;
  if (isAnyNotNL(re.sub.set)) return 'nl';
  if (isAnyChar(re.sub.set)) return 'any';
  return undefined;
}

/** Exact substring plan for an unanchored regex, or undefined when it needs a regex engine. */
export function literalPlan(re: Re): LiteralPlan | undefined {
  if (re.k === 'alt') {
    // Alternation of single-part plans: one "any of".
    const all: Lit[] = [];
    for (const b of re.subs) {
      const p = literalPlan(b);
      if (p === undefined) return undefined;
      if (p.kind === 'always') return p;
      if (p.parts.length !== 1) return undefined;
      all.push(...p.parts[0]!);
    }
    return { kind: 'seq', parts: [dedupe(all)], crossNL: false };
  }
  const items = re.k === 'cat' ? re.subs : [re];
  const parts: Lit[][] = [];
  /** Kinds of the gaps that separate two parts. */
  const between = new Set<Gap>();
  /** Gap seen since the last part (`.*(?s).*` together may cross lines). */
  let gap: Gap | undefined;
  let pending: Lit[] | undefined; // literal run not yet closed by a gap
  const close = (): boolean => {
    if (pending === undefined) return true;
    // A part that can match the empty string is always satisfied.
    if (!pending.some((l) => l.text === '')) {
      if (!pending.every(searchable)) return false;
      if (parts.length > 0 && gap !== undefined) between.add(gap);
      parts.push(pending);
      gap = undefined;
    }
    pending = undefined;
    return true;
  };
  for (const it of items) {
    const g = gapKind(it);
    if (g !== undefined) {
      if (!close()) return undefined;
      if (parts.length > 0) gap = gap === 'any' || g === 'any' ? 'any' : 'nl';
      continue;
    }
    const l = litSet(it);
    if (l === undefined) return undefined;
    pending = pending === undefined ? l : cross(pending, l);
    if (pending === undefined) return undefined;
  }
  if (!close()) return undefined;
  if (parts.length === 0) return { kind: 'always' };
  if (between.size > 1) return undefined; // mixed gap kinds: leave it to a regex engine
  return { kind: 'seq', parts, crossNL: between.has('any') };
}

/** Exact set of case-sensitive strings an anchored (label) regex matches, if small. */
export function exactStrings(re: Re): string[] | undefined {
  const l = litSet(re);
  if (l === undefined || l.some((x) => x.fold)) return undefined;
  return l.map((x) => x.text);
}

// ---------------------------------------------------------------------------
// Required literals (prefilter)

interface Info {
  exact: Lit[] | undefined;
  /** AND of OR-groups. */
  req: Lit[][];
}

function info(re: Re): Info {
  switch (re.k) {
    case 'cap':
      return info(re.sub);
    case 'empty':
    case 'assert':
      return { exact: [{ text: '', fold: false }], req: [] };
    case 'lit':
    case 'set':
      return { exact: litSet(re), req: [] };
    case 'cat': {
      // Runs of exactly-known pieces multiply out into required groups.
      const empty: Lit[] = [{ text: '', fold: false }];
      const req: Lit[][] = [];
      let run: Lit[] = empty;
      let whole: Lit[] | undefined = empty;
      for (const s of re.subs) {
        const i = info(s);
        req.push(...i.req);
        if (i.exact === undefined) {
          whole = undefined;
          req.push(run);
          run = empty;
          continue;
        }
        if (whole !== undefined) whole = cross(whole, i.exact);
        const next = cross(run, i.exact);
        if (next === undefined) {
          req.push(run);
          run = i.exact;
        } else run = next;
      }
      req.push(run);
      return { exact: whole, req };
    }
    case 'alt': {
      const infos = re.subs.map(info);
      if (infos.every((i) => i.exact !== undefined)) {
        const all = dedupe(infos.flatMap((i) => i.exact!));
        if (all.length <= MAX_ALTERNATIVES) return { exact: all, req: [] };
      }
      // Otherwise: one of each branch's best group.
      const group: Lit[] = [];
      for (const i of infos) {
        const best = bestGroup(i);
        if (best === undefined) return { exact: undefined, req: [] };
        group.push(...best);
      }
      return { exact: undefined, req: [dedupe(group)] };
    }
    case 'rep': {
      const i = info(re.sub);
      if (re.min === 0) return { exact: re.max === 1 && i.exact !== undefined ? dedupe([...i.exact, { text: '', fold: false }]) : undefined, req: [] };
      const req = [...i.req];
      if (i.exact !== undefined) req.push(i.exact);
      return { exact: re.min === 1 && re.max === 1 ? i.exact : undefined, req };
    }
  }
}

function groupScore(g: readonly Lit[]): number {
  let min = Infinity;
  for (const l of g) min = Math.min(min, l.text.length);
  return g.length === 0 ? 0 : min;
}

function bestGroup(i: Info): Lit[] | undefined {
  let best: Lit[] | undefined;
  const cands = i.exact !== undefined ? [...i.req, i.exact] : i.req;
  for (const g of cands) if (groupScore(g) > 0 && (best === undefined || groupScore(g) > groupScore(best))) best = g;
  return best;
}

/**
 * A literal as the prefilter sees it: case-folded through the canonical unit
 * table, cut at characters unit-wise folding can't represent (then the
 * longest remaining piece, still a required substring).
 */
export function prefilterString(l: Lit): string {
  const canon = foldCanonTable();
  let best = '';
  let cur = '';
  for (const ch of l.text) {
    const cp = ch.codePointAt(0)!;
    const unitFoldable = !(l.fold && hasFold(cp)) || (cp <= 0xffff && foldOrbit(cp).every((m) => m <= 0xffff));
    if (cp === 0xfffd || (cp >= 0xd800 && cp <= 0xdfff) || !unitFoldable) {
      if (cur.length > best.length) best = cur;
      cur = '';
      continue;
    }
    for (let k = 0; k < ch.length; k++) cur += String.fromCharCode(canon[ch.charCodeAt(k)]!);
  }
  return cur.length > best.length ? cur : best;
}

/**
 * Groups of prefilter strings (canonical case folding) such that every match
 * of `re` contains one string of every group. Empty when nothing is required.
 * At most `maxGroups`, the most selective (longest shortest string) first.
 */
export function requiredLiterals(re: Re, maxGroups = 3): string[][] {
  const i = info(re);
  const groups = i.exact !== undefined ? [...i.req, i.exact] : i.req;
  const out: string[][] = [];
  const seen = new Set<string>();
  for (const g of groups) {
    if (g.length === 0) continue;
    let strs = [...new Set(g.map(prefilterString))];
    if (strs.some((s) => s === '')) continue; // something in it can match empty text: no constraint
    // "contains iscsid or iscsi" is "contains iscsi".
    strs = strs.filter((s) => !strs.some((t) => t !== s && s.includes(t)));
    const key = strs.slice().sort().join('\u0000');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(strs);
  }
  out.sort((a, b) => Math.min(...b.map((s) => s.length)) - Math.min(...a.map((s) => s.length)));
  return out.slice(0, maxGroups);
}
