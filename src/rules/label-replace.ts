/**
 * label_replace(v, dst, replacement, src, regex) as Loki runs it
 * (pkg/logql/evaluator.go LabelReplaceEvaluator): the regex is anchored
 * (^(?:re)$, syntax/ast.go mustNewLabelReplaceExpr); no match leaves the
 * sample alone; otherwise dst is set to the expanded replacement, or removed
 * when that is empty.
 *
 * Submatches come from the RE2 tree parsed with captures, translated to a JS
 * RegExp whose leftmost-first backtracking picks Go's submatches (as the
 * `| regexp` stage does); the translation's worst-case bound limits the value
 * length searched, beyond which the rule's evaluation fails rather than stall.
 */
import type { LabelReplaceExpr } from '../logql/ast.js';
import { chooseMode, maxBacktrackLength, toJsRegExp } from '../re2/re2-backtrack.js';
import { type Re, parseRe2 } from '../re2/re2-syntax.js';
import { BACKTRACK_BUDGET } from '../re2/re2.js';
import { expandTemplate } from '../re2/expand-template.js';
import type { Sample } from './instant-vector.js';

interface Compiled {
  readonly re: RegExp;
  readonly maxLen: number;
  /** Group names by group number ("" or undefined: unnamed). */
  readonly names: ReadonlyArray<string | undefined>;
}

const compiled = new WeakMap<LabelReplaceExpr, Compiled>();

function strip(re: Re, names: Array<string | undefined>): Re {
  switch (re.k) {
    case 'cap':
      names[re.index] = re.name === '' ? undefined : re.name;
      return strip(re.sub, names);
    case 'cat':
    case 'alt':
      return { k: re.k, subs: re.subs.map((s) => strip(s, names)) };
    case 'rep':
      return { ...re, sub: strip(re.sub, names) };
    default:
      return re;
  }
}

function compile(e: LabelReplaceExpr): Compiled {
  let c = compiled.get(e);
  if (c === undefined) {
    const tree = parseRe2(`^(?:${e.regex})$`, { captures: true });
    const names: Array<string | undefined> = [undefined];
    const plain = strip(tree, names);
    c = { re: toJsRegExp(tree, chooseMode(plain)), maxLen: maxBacktrackLength(plain, BACKTRACK_BUDGET), names };
    compiled.set(e, c);
  }
  return c;
}

export function labelReplace(e: LabelReplaceExpr, samples: readonly Sample[]): Sample[] {
  const { re, maxLen, names } = compile(e);
  return samples.map((s) => {
    const src = s.labels[e.src] ?? '';
    if (src.length > maxLen) throw new Error(`label_replace: value of label "${e.src}" (${src.length} characters) too long for this regex's submatches`);
    const m = re.exec(src);
    if (m === null) return s;
    const value = expandTemplate(e.replacement, m, names);
    const labels: Record<string, string> = { ...s.labels };
    delete labels[e.dst];
    if (value !== '') labels[e.dst] = value;
    return { labels, value: s.value };
  });
}
