/**
 * Submatches (capture groups) with Go's leftmost-first semantics, for the
 * callers that need where a regex matched and what its groups captured:
 * the template functions `reReplaceAll` (Go's Regexp.ReplaceAllString) and,
 * later, LogQL's `| regexp` stage.
 *
 * The RE2 tree, parsed with its capturing groups kept, is translated to a JS
 * RegExp (re2-backtrack.ts): its backtracking explores alternatives in the
 * same priority order as Go's regexp, so it finds the same match and, with one
 * exception, the same groups. The exception: a group inside a repetition that
 * took no part in the last iteration is unset in JS but keeps its earlier
 * value in Go (`(?:(a)|b)+` on "ab": Go $1 = "a", here ""). Searches are
 * bounded: a text longer than `maxLength` (the longest whose worst-case
 * backtracking stays within BACKTRACK_BUDGET) throws SubmatchTooCostlyError
 * instead of risking a stall.
 */
import { chooseMode, maxBacktrackLength, toJsRegExp } from './re2-backtrack.js';
import { type Re, parseRe2 } from './re2-syntax.js';
import { BACKTRACK_BUDGET } from './re2.js';

export interface Submatch {
  /** UTF-16 offset of the match. */
  readonly index: number;
  /** groups[0] is the whole match, groups[i] capture group i; undefined when the group took no part. */
  readonly groups: readonly (string | undefined)[];
}

export interface SubmatchRegex {
  readonly source: string;
  /** Name of each capturing group, numbered from 1 in order of its `(`: groupNames[i - 1] ("" when unnamed). */
  readonly groupNames: readonly string[];
  /** Longest text `exec` searches. */
  readonly maxLength: number;
  /**
   * The first match starting at or after UTF-16 offset `from`, or null.
   * Throws SubmatchTooCostlyError when text.length > maxLength.
   */
  exec(text: string, from?: number): Submatch | null;
}

export class SubmatchTooCostlyError extends Error {
  constructor(source: string, length: number, maxLength: number) {
    super(`regexp ${JSON.stringify(source)}: text of ${length} characters is over the ${maxLength} this pattern can search with bounded work`);
    this.name = 'SubmatchTooCostlyError';
  }
}

/** The tree without its groups (what the cost analysis takes). */
function uncaptured(re: Re): Re {
  switch (re.k) {
    case 'cap':
      return uncaptured(re.sub);
    case 'cat':
    case 'alt':
      return { k: re.k, subs: re.subs.map(uncaptured) };
    case 'rep':
      return { ...re, sub: uncaptured(re.sub) };
    default:
      return re;
  }
}

function collectNames(re: Re, out: string[]): void {
  switch (re.k) {
    case 'cap':
      out[re.index - 1] = re.name;
      collectNames(re.sub, out);
      return;
    case 'cat':
    case 'alt':
      for (const s of re.subs) collectNames(s, out);
      return;
    case 'rep':
      collectNames(re.sub, out);
      return;
    default:
      return;
  }
}

class JsSubmatchRegex implements SubmatchRegex {
  readonly groupNames: readonly string[];
  readonly maxLength: number;
  private readonly js: RegExp;

  constructor(readonly source: string) {
    const tree = parseRe2(source, { captures: true });
    const plain = uncaptured(tree);
    const names: string[] = [];
    collectNames(tree, names);
    this.groupNames = names;
    this.maxLength = maxBacktrackLength(plain, BACKTRACK_BUDGET);
    const js = toJsRegExp(tree, chooseMode(plain));
    this.js = new RegExp(js.source, `${js.flags}g`);
  }

  exec(text: string, from = 0): Submatch | null {
    if (text.length > this.maxLength) throw new SubmatchTooCostlyError(this.source, text.length, this.maxLength);
    this.js.lastIndex = from;
    const m = this.js.exec(text);
    if (m === null) return null;
    return { index: m.index, groups: m };
  }
}

const MAX_CACHED = 1000;
const cache = new Map<string, SubmatchRegex>();

/** Compiles (and caches) a pattern for submatch search. Throws Re2SyntaxError with Go's error text. */
export function compileSubmatchRegex(source: string): SubmatchRegex {
  const hit = cache.get(source);
  if (hit !== undefined) return hit;
  const re = new JsSubmatchRegex(source);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(source, re);
  return re;
}
