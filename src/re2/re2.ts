/**
 * RE2 regexes for LogQL: exact RE2 (Go regexp) match semantics, fast on the
 * common shapes, and bounded time per line on every pattern.
 *
 * Tiers, chosen per pattern (and per line length):
 * 1. `literal`: Loki-style simplification to substring checks
 *    (re2-literals.ts) — no regex at all.
 * 2. `backtrack`: a V8 RegExp translated with RE2 semantics
 *    (re2-backtrack.ts), used only for lines short enough that a worst-case
 *    bound on its backtracking work stays under BACKTRACK_BUDGET steps.
 * 3. `dfa`: a lazy DFA (re2-dfa.ts), linear in the line for every pattern;
 *    used when backtracking can't be bounded (nested quantifiers, ambiguous
 *    loops) or the line is too long for the bound.
 * V8's experimental linear engine and re2-wasm were measured and not used on
 * the hot path: both cost microseconds per line, and the linear engine needs a
 * process-wide V8 flag and refuses the `i`/`u` flags; re2-wasm stays the
 * oracle of the differential tests (bench/logql-filters.ts has figures).
 *
 * Where Go (Loki) and C++ RE2 differ we follow Go: a lone surrogate (only from
 * a crafted `\ud800` JSON escape) matches as U+FFFD, as Go's JSON decoder makes
 * it; `\B` is checked between code points only. One place where the literal
 * tier and Loki's own simplifier differ: Loki's `(?i)lit` shortcut lowercases
 * with unicode.ToLower, so it misses e.g. "ſ" for "s"; we give RE2's answer.
 * Line strings are UTF-16, so positions/lengths count code units; no match
 * result depends on that (surrogate pairs are matched as one character).
 */
import { LazyDfa } from './re2-dfa.js';
import { chooseMode, maxBacktrackLength, toJsRegExp } from './re2-backtrack.js';
import { exactStrings, literalPlan, requiredLiterals } from './re2-literals.js';
import { type Re, hasAssert, isAnyChar, isAnyNotNL, parseRe2 } from './re2-syntax.js';
import { type LineTest, planMatcher } from './literal-matcher.js';

export { Re2SyntaxError, parseRe2 } from './re2-syntax.js';

/**
 * Worst-case backtracking steps allowed per line. At a few ns per step in
 * irregexp this keeps the slowest line in the low milliseconds; beyond it
 * the DFA (about 5-10 ns per code unit) takes over.
 */
export const BACKTRACK_BUDGET = 4_000_000;

/** Below this bound (nested or ambiguous loops) backtracking isn't worth keeping: DFA only. */
const MIN_BACKTRACK_LENGTH = 256;

export type RegexTier = 'literal' | 'backtrack' | 'dfa';

export interface CompiledRegex extends LineTest {
  readonly source: string;
  readonly tier: RegexTier;
  /** Prefilter groups: every matching line contains one (case-folded) string of each group. */
  readonly required: readonly (readonly string[])[];
}

/** Backtracking for lines up to `maxLen` code units, the DFA beyond (and if V8 ever throws). */
class HybridRegex implements LineTest {
  private dfa: LazyDfa | undefined;
  constructor(
    private readonly re: Re,
    private readonly anchored: boolean,
    private readonly js: RegExp | undefined,
    private readonly maxLen: number,
  ) {}

  get backtracks(): boolean {
    return this.js !== undefined;
  }

  linear(): LazyDfa {
    this.dfa ??= new LazyDfa(this.re, this.anchored);
    return this.dfa;
  }

  test(s: string): boolean {
    if (this.js !== undefined && s.length <= this.maxLen) {
      try {
        return this.js.test(s);
      } catch {
        // e.g. irregexp's backtrack stack exhausted: the DFA answers instead.
      }
    }
    return this.linear().test(s);
  }
}

function hybrid(re: Re, anchored: boolean): HybridRegex {
  const body: Re = anchored ? { k: 'cat', subs: [{ k: 'assert', a: 'bot' }, re, { k: 'assert', a: 'eot' }] } : re;
  const maxLen = maxBacktrackLength(body, BACKTRACK_BUDGET);
  let js: RegExp | undefined;
  // V8 checks \B between the halves of a surrogate pair even in u mode (Go never does): DFA only.
  if (maxLen >= MIN_BACKTRACK_LENGTH && !hasAssert(body, ['nwb'])) {
    try {
      js = toJsRegExp(body, chooseMode(body));
    } catch {
      js = undefined; // something V8 refuses (size): DFA only
    }
  }
  return new HybridRegex(re, anchored, js, maxLen);
}

class LineRegex implements CompiledRegex {
  readonly tier: RegexTier;
  readonly required: readonly (readonly string[])[];
  private readonly impl: LineTest;

  constructor(readonly source: string) {
    const re = parseRe2(source);
    this.required = requiredLiterals(re);
    const plan = literalPlan(re);
    if (plan !== undefined) {
      let fallback: HybridRegex | undefined;
      this.impl = planMatcher(plan, () => (fallback ??= hybrid(re, false)));
      this.tier = 'literal';
      return;
    }
    const h = hybrid(re, false);
    this.impl = h;
    this.tier = h.backtracks ? 'backtrack' : 'dfa';
  }

  test(s: string): boolean {
    return this.impl.test(s);
  }
}

/** Compiled regexes are shared between rules; bounded so that reloads with ever new patterns can't grow it forever. */
const MAX_CACHED = 10_000;
const lineCache = new Map<string, CompiledRegex>();

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, value);
  return value;
}

/** An unanchored RE2 line filter (`|~ "re"`): matches when the regex matches anywhere. Throws Re2SyntaxError. */
export function compileLineRegex(source: string): CompiledRegex {
  return lineCache.get(source) ?? remember(lineCache, source, new LineRegex(source));
}

/** Test hooks: force a tier, bypassing the planner (differential tests compare every tier with RE2). */
export function compileWithTier(source: string, tier: RegexTier, anchored = false): LineTest | undefined {
  const re = parseRe2(source, { dotNL: anchored });
  switch (tier) {
    case 'literal': {
      if (anchored) return undefined;
      const plan = literalPlan(re);
      return plan === undefined ? undefined : planMatcher(plan, () => new LazyDfa(re, false));
    }
    case 'backtrack': {
      // Only where the planner would use it (and then only for lines within its bound).
      const body: Re = anchored ? { k: 'cat', subs: [{ k: 'assert', a: 'bot' }, re, { k: 'assert', a: 'eot' }] } : re;
      if (hasAssert(re, ['nwb']) || maxBacktrackLength(body, BACKTRACK_BUDGET) < MIN_BACKTRACK_LENGTH) return undefined;
      return toJsRegExp(body, chooseMode(body));
    }
    case 'dfa':
      return new LazyDfa(re, anchored);
  }
}

const labelCache = new Map<string, (value: string) => boolean>();

/**
 * A label matcher regex (`=~`): fully anchored, and — as Prometheus'
 * FastRegexMatcher parses it with syntax.Perl|syntax.DotNL and compiles
 * `^(?s:re)$` — with `.` matching `\n` unless the pattern says `(?-s)`.
 * A missing label is the empty string. Throws Re2SyntaxError.
 */
export function compileLabelRegex(source: string): (value: string) => boolean {
  const hit = labelCache.get(source);
  if (hit !== undefined) return hit;
  const re = parseRe2(source, { dotNL: true });
  let fn: (value: string) => boolean;
  const exact = exactStrings(re);
  if (exact !== undefined && exact.length === 1) {
    const only = exact[0]!;
    fn = (v) => v === only;
  } else if (exact !== undefined) {
    const set = new Set(exact);
    fn = (v) => set.has(v);
  } else if (re.k === 'rep' && re.min === 0 && re.max === -1 && re.sub.k === 'set' && isAnyChar(re.sub.set)) {
    fn = () => true;
  } else if (re.k === 'rep' && re.min === 0 && re.max === -1 && re.sub.k === 'set' && isAnyNotNL(re.sub.set)) {
    fn = (v) => !v.includes('\n');
  } else {
    const h = hybrid(re, true);
    fn = (v) => h.test(v);
  }
  return remember(labelCache, source, fn);
}

/** Parses for validation only; throws Re2SyntaxError. */
export function checkRe2(source: string): void {
  parseRe2(source);
}
