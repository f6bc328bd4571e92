/**
 * `| regexp "(?P<method>\\w+) (?P<path>\\S+)"` (pkg/logql/log/parser.go
 * RegexpParser): the first (leftmost-first) match's named groups become
 * labels; no match sets nothing and keeps the line. The pattern must have
 * at least one named group, names valid and unique.
 *
 * Submatches come from the product's RE2 engine (re2/captures.ts: Go's
 * leftmost-first groups, bounded work). On a line longer than the pattern
 * can search with bounded work, the linear DFA still says whether the line
 * matches; a matching one gets `__error__="RegexpParserErr"` (labels
 * unknown) rather than risking a stall.
 */
import { type SubmatchRegex, SubmatchTooCostlyError, compileSubmatchRegex } from '../../re2/captures.js';
import { type CompiledRegex, compileLineRegex } from '../../re2/re2.js';
import { Category, type LabelsBuilder } from './labels-builder.js';
import { type Stage, isValidLabelName, sanitizeLabelKey } from './stage.js';

export const REGEXP_LONG_LINE_ERROR = 'RegexpParserErr';

/** Named groups (name, group number), validated as Loki's NewRegexpParser does. */
export function regexpCaptureNames(pattern: string): Array<{ name: string; index: number }> {
  const re = compileSubmatchRegex(pattern);
  if (re.groupNames.length === 0) throw new Error('at least one named capture must be supplied');
  const named = re.groupNames.flatMap((name, i) => (name === '' ? [] : [{ name, index: i + 1 }]));
  const seen = new Set<string>();
  for (const c of named) {
    if (!isValidLabelName(c.name)) throw new Error(`invalid extracted label name '${c.name}'`);
    if (seen.has(c.name)) throw new Error(`duplicate extracted label name '${c.name}'`);
    seen.add(c.name);
  }
  if (named.length === 0) throw new Error('at least one named capture must be supplied');
  return named;
}

export class RegexpParser implements Stage {
  private readonly re: SubmatchRegex;
  private readonly names: Array<{ name: string; index: number }>;
  private readonly linear: CompiledRegex;

  constructor(pattern: string) {
    this.names = regexpCaptureNames(pattern).map((c) => ({ name: sanitizeLabelKey(c.name), index: c.index }));
    this.re = compileSubmatchRegex(pattern);
    this.linear = compileLineRegex(pattern);
  }

  process(line: string, lb: LabelsBuilder): string {
    let m;
    try {
      m = this.re.exec(line);
    } catch (e) {
      if (!(e instanceof SubmatchTooCostlyError)) throw e;
      if (this.linear.test(line)) lb.setError(REGEXP_LONG_LINE_ERROR, e.message);
      return line;
    }
    if (m === null) return line;
    for (const { name, index } of this.names) {
      const v = m.groups[index];
      const key = lb.parsedName(name);
      if (!lb.extracted(key)) lb.set(Category.Parsed, key, v === undefined ? '' : normalise(v));
    }
    return line;
  }
}

/** Lone surrogates in a submatch become a space, as Go's invalid UTF-8 does (parser.go removeInvalidUtf). */
function normalise(v: string): string {
  return v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ' ');
}
