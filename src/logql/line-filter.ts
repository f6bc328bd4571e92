/**
 * One selector's chain of line filters compiled into an exact line test plus
 * the literals any passing line must contain (for the shared prefilter).
 * Semantics (Loki): stages are ANDed; `|= "a" or "b"` passes when any value
 * matches; `!= "a" or "b"` when none does; `|=`/`!=` are case-sensitive
 * substring checks, `|~`/`!~` unanchored RE2 regexes. `|= ""` passes every
 * line, so `!= ""` passes none.
 */
import type { LineFilter } from './ast.js';
import { type LineTest, anyOf } from '../re2/literal-matcher.js';
import { prefilterString } from '../re2/re2-literals.js';
import { type CompiledRegex, compileLineRegex } from '../re2/re2.js';

interface Stage {
  negate: boolean;
  test: LineTest;
  /** Evaluation order: cheapest first (the stages commute). */
  rank: number;
}

export interface CompiledChain extends LineTest {
  /** AND of OR-groups of prefilter strings (case-folded) every passing line contains. */
  readonly required: readonly (readonly string[])[];
  /** True when no line can pass (`!= ""`). */
  readonly never: boolean;
}

const NEVER: LineTest = { test: () => false };
const MAX_GROUPS = 4;

function minLength(g: readonly string[]): number {
  let m = Infinity;
  for (const s of g) m = Math.min(m, s.length);
  return m;
}

const TIER_RANK: Record<CompiledRegex['tier'], number> = { literal: 2, backtrack: 3, dfa: 4 };

function anyRegex(res: CompiledRegex[]): LineTest {
  if (res.length === 1) return res[0]!;
  return {
    test(s: string): boolean {
      for (const r of res) if (r.test(s)) return true;
      return false;
    },
  };
}

class Chain implements CompiledChain {
  constructor(
    private readonly stages: readonly Stage[],
    readonly required: readonly (readonly string[])[],
    readonly never: boolean,
  ) {}

  test(s: string): boolean {
    const st = this.stages;
    for (let i = 0; i < st.length; i++) {
      const g = st[i]!;
      if (g.test.test(s) === g.negate) return false;
    }
    return true;
  }
}

/** Compiles a filter chain; throws Re2SyntaxError for an invalid regex. */
export function compileChain(filters: readonly LineFilter[]): CompiledChain {
  const stages: Stage[] = [];
  const required: string[][] = [];
  let never = false;
  for (const f of filters) {
    const negate = f.op === '!=' || f.op === '!~';
    if (f.op === '|=' || f.op === '!=') {
      if (f.values.includes('')) {
        // Contains "" is always true.
        if (negate) never = true;
        continue;
      }
      stages.push({ negate, test: anyOf(f.values.map((text) => ({ text, fold: false }))), rank: negate ? 1 : 0 });
      if (!negate) {
        const group = f.values.map((text) => prefilterString({ text, fold: false }));
        if (!group.includes('')) required.push(group);
      }
      continue;
    }
    const res = f.values.map(compileLineRegex);
    stages.push({ negate, test: anyRegex(res), rank: Math.max(...res.map((r) => TIER_RANK[r.tier])) });
    if (!negate) {
      if (res.length === 1) required.push(...res[0]!.required.map((g) => [...g]));
      else if (res.every((r) => r.required.length > 0)) {
        // `|~ "a" or "b"`: one of the values' first (most selective) groups.
        required.push([...new Set(res.flatMap((r) => r.required[0]!))]);
      }
    }
  }
  stages.sort((a, b) => a.rank - b.rank);
  if (never) return new Chain([{ negate: false, test: NEVER, rank: 0 }], [], true);
  // The most selective groups (longest shortest literal) are enough for a prefilter.
  required.sort((a, b) => minLength(b) - minLength(a));
  return new Chain(stages, required.slice(0, MAX_GROUPS), false);
}
