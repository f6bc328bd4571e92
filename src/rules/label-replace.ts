/**
 * label_replace(v, dst, replacement, src, regex) as Loki runs it
 * (pkg/logql/evaluator.go LabelReplaceEvaluator): the regex is anchored; no
 * match leaves the sample alone; otherwise dst is set to the expanded
 * replacement, or removed when that is empty.
 */
import type { LabelReplaceExpr } from '../logql/ast.js';
import { expandTemplate, translateForSubmatch, type SubmatchRegex } from '../re2/re2-submatch.js';
import type { Sample } from './instant-vector.js';

const compiled = new WeakMap<LabelReplaceExpr, SubmatchRegex>();

function regexOf(e: LabelReplaceExpr): SubmatchRegex {
  let r = compiled.get(e);
  if (r === undefined) {
    const t = translateForSubmatch(e.regex);
    // The parser refuses what can't be translated, so this is a programming error.
    if (typeof t === 'string') throw new Error(`label_replace regex: ${t}`);
    r = t;
    compiled.set(e, r);
  }
  return r;
}

export function labelReplace(e: LabelReplaceExpr, samples: readonly Sample[]): Sample[] {
  const { re, names } = regexOf(e);
  return samples.map((s) => {
    const m = re.exec(s.labels[e.src] ?? '');
    if (m === null) return s;
    const value = expandTemplate(e.replacement, m, names);
    const labels: Record<string, string> = { ...s.labels };
    delete labels[e.dst];
    if (value !== '') labels[e.dst] = value;
    return { labels, value: s.value };
  });
}
