/**
 * Substring matchers for literal plans (see re2-literals.ts). Case-sensitive
 * literals use String#includes/indexOf; case-insensitive ones a V8 RegExp with
 * the `iu` flags, whose canonicalisation is Unicode simple case folding —
 * exactly RE2's `(?i)` (so `(?i)iscsi` also finds "iſcsi", as RE2 does).
 */
import type { Lit, LiteralPlan } from './re2-literals.js';
import { foldCanonTable } from './unicode-data.js';

/** Anything that answers "does this line match?". */
export interface LineTest {
  test(s: string): boolean;
}

function escapeForRegExp(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    out += /[0-9A-Za-z]/.test(ch) ? ch : `\\u{${cp.toString(16)}}`;
  }
  return out;
}

export const ALWAYS: LineTest = { test: () => true };

class Contains implements LineTest {
  constructor(private readonly text: string) {}
  test(s: string): boolean {
    return s.includes(this.text);
  }
}

/** Any of several literals: case-sensitive ones via includes (or one regex when many), folded ones via one `iu` regex. */
export function anyOf(lits: readonly Lit[]): LineTest {
  const cs = lits.filter((l) => !l.fold).map((l) => l.text);
  const ci = lits.filter((l) => l.fold).map((l) => l.text);
  const tests: LineTest[] = [];
  if (cs.length > 0 && cs.length <= 3) for (const t of cs) tests.push(new Contains(t));
  else if (cs.length > 3) tests.push(new RegExp(cs.map(escapeForRegExp).join('|'), 'u'));
  if (ci.length > 0) tests.push(new RegExp(ci.map(escapeForRegExp).join('|'), 'iu'));
  if (tests.length === 1) return tests[0]!;
  return {
    test(s: string): boolean {
      for (const t of tests) if (t.test(s)) return true;
      return false;
    },
  };
}

/** Finds one literal at or after a position. */
interface Finder {
  readonly length: number;
  find(s: string, from: number): number;
}

function finder(l: Lit): Finder {
  if (!l.fold) return { length: l.text.length, find: (s, from) => s.indexOf(l.text, from) };
  const re = new RegExp(escapeForRegExp(l.text), 'giu');
  return {
    // Folded orbits stay within the BMP (checked by the planner), so the match length is the literal's.
    length: l.text.length,
    find(s: string, from: number): number {
      re.lastIndex = from;
      const m = re.exec(s);
      return m === null ? -1 : m.index;
    },
  };
}

function canonical(text: string): string {
  const canon = foldCanonTable();
  let out = '';
  for (let i = 0; i < text.length; i++) out += String.fromCharCode(canon[text.charCodeAt(i)]!);
  return out;
}

/**
 * Drops alternatives that contain another one: wherever "iscsid" occurs,
 * "iscsi" occurs too and ends no later, so {iscsid, iscsi} ≡ {iscsi} for both
 * "any of" and the earliest-end search below. (Within one case mode; folded
 * texts compare canonically. Orbits stay in the BMP, checked by the planner.)
 */
export function minimalAlternatives(lits: readonly Lit[]): Lit[] {
  const key = (l: Lit): string => (l.fold ? canonical(l.text) : l.text);
  return lits.filter(
    (l, i) =>
      !lits.some((m, j) => j !== i && m.fold === l.fold && key(l).includes(key(m)) && (key(m) !== key(l) || j < i)),
  );
}

/**
 * Parts in order. Choosing, part after part, the occurrence that ends first
 * is optimal (it leaves the most room for the rest), so one left-to-right pass
 * decides. Without `crossNL` the whole chain must sit on one line of the text:
 * lines containing `\n` go to `fallback` (an exact regex engine).
 */
class Sequence implements LineTest {
  private readonly parts: Finder[][];
  /** Each part must occur somewhere: a cheap necessary check first (most lines fail it). */
  private readonly present: LineTest[];
  constructor(
    parts: readonly (readonly Lit[])[],
    private readonly crossNL: boolean,
    private readonly fallback: () => LineTest,
  ) {
    this.parts = parts.map((p) => p.map(finder));
    this.present = parts.map(anyOf);
  }

  test(s: string): boolean {
    for (const p of this.present) if (!p.test(s)) return false;
    if (!this.crossNL && s.includes('\n')) return this.fallback().test(s);
    let pos = 0;
    for (const part of this.parts) {
      let end = Infinity;
      for (const f of part) {
        const i = f.find(s, pos);
        if (i >= 0 && i + f.length < end) end = i + f.length;
      }
      if (end === Infinity) return false;
      pos = end;
    }
    return true;
  }
}

export function planMatcher(plan: LiteralPlan, fallback: () => LineTest): LineTest {
  if (plan.kind === 'always') return ALWAYS;
  const parts = plan.parts.map(minimalAlternatives);
  if (parts.length === 1) return anyOf(parts[0]!);
  return new Sequence(parts, plan.crossNL, fallback);
}
