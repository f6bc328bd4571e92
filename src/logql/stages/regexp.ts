/**
 * `| regexp "(?P<method>\\w+) (?P<path>\\S+)"` (pkg/logql/log/parser.go
 * RegexpParser): the first (leftmost-first) match's named groups become
 * labels; no match sets nothing and keeps the line. The pattern must have
 * at least one named group, names valid and unique.
 *
 * Submatches come from the product's RE2 engine: the bounded backtracker
 * (re2/captures.ts) where its worst case is cheap for the line's length,
 * else the linear-time Pike VM (re2/pike-vm.ts) — both Go's leftmost-first
 * groups, so every line gets its labels and none can stall the process.
 */
import { type SubmatchRegex, compileSubmatchRegex } from '../../re2/captures.js';
import { PikeRegex } from '../../re2/pike-vm.js';
import { Category, type LabelsBuilder } from './labels-builder.js';
import { type Stage, isValidLabelName, sanitizeLabelKey } from './stage.js';

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
  private pike: PikeRegex | undefined;

  constructor(pattern: string) {
    this.names = regexpCaptureNames(pattern).map((c) => ({ name: sanitizeLabelKey(c.name), index: c.index }));
    this.re = compileSubmatchRegex(pattern);
  }

  process(line: string, lb: LabelsBuilder): string {
    let m: { groups: readonly (string | undefined)[] } | null;
    if (line.length <= this.re.maxLength) m = this.re.exec(line);
    else {
      this.pike ??= new PikeRegex(this.re.source);
      m = this.pike.exec(line);
    }
    if (m === null) return line;
    for (const { name, index } of this.names) {
      const v = m.groups[index];
      const key = lb.parsedName(name);
      if (lb.hints.shouldExtract(key) && !lb.extracted(key)) lb.set(Category.Parsed, key, v === undefined ? '' : normalise(v));
    }
    return line;
  }
}

/** Lone surrogates in a submatch become a space, as Go's invalid UTF-8 does (parser.go removeInvalidUtf). */
function normalise(v: string): string {
  return v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ' ');
}
