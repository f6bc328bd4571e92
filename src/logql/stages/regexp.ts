/**
 * `| regexp "(?P<method>\\w+) (?P<path>\\S+)"` (pkg/logql/log/parser.go
 * RegexpParser): the first (leftmost-first) match's named groups become
 * labels; no match sets nothing and keeps the line. The pattern must have
 * at least one named group, names valid and unique.
 *
 * Submatches come from the product's RE2 engine: the RE2 tree, parsed with
 * captures kept, translated to a JS RegExp (re2-backtrack.ts), whose
 * leftmost-first backtracking picks the same submatches as Go's regexp.
 * The translation's worst-case bound decides how long a line it may search;
 * beyond it (a pattern with nested or ambiguous loops on a long line) the
 * linear DFA says whether the line matches at all, and a matching line gets
 * `__error__="RegexpParserErr"` instead of labels rather than risking a stall.
 */
import { chooseMode, maxBacktrackLength, toJsRegExp } from '../../re2/re2-backtrack.js';
import { type Re, parseRe2 } from '../../re2/re2-syntax.js';
import { BACKTRACK_BUDGET, compileLineRegex } from '../../re2/re2.js';
import { Category, type LabelsBuilder } from './labels-builder.js';
import { type Stage, isValidLabelName, sanitizeLabelKey } from './stage.js';

export const REGEXP_LONG_LINE_ERROR = 'RegexpParserErr';

function strip(re: Re): Re {
  switch (re.k) {
    case 'cap':
      return strip(re.sub);
    case 'cat':
    case 'alt':
      return { k: re.k, subs: re.subs.map(strip) };
    case 'rep':
      return { ...re, sub: strip(re.sub) };
    default:
      return re;
  }
}

function collectCaps(re: Re, out: Array<{ name: string; index: number }>): void {
  switch (re.k) {
    case 'cap':
      out.push({ name: re.name, index: re.index });
      collectCaps(re.sub, out);
      break;
    case 'cat':
    case 'alt':
      for (const s of re.subs) collectCaps(s, out);
      break;
    case 'rep':
      collectCaps(re.sub, out);
      break;
    default:
      break;
  }
}

/** Named groups in order, validated as Loki's NewRegexpParser does. */
export function regexpCaptureNames(pattern: string): Array<{ name: string; index: number }> {
  const caps: Array<{ name: string; index: number }> = [];
  collectCaps(parseRe2(pattern, { captures: true }), caps);
  if (caps.length === 0) throw new Error('at least one named capture must be supplied');
  const named = caps.filter((c) => c.name !== '');
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
  private readonly js: RegExp;
  private readonly maxLen: number;
  private readonly names: Array<{ name: string; index: number }>;
  private readonly linear: { test(s: string): boolean };

  constructor(pattern: string) {
    this.names = regexpCaptureNames(pattern).map((c) => ({ name: sanitizeLabelKey(c.name), index: c.index }));
    const tree = parseRe2(pattern, { captures: true });
    const plain = strip(tree);
    this.js = toJsRegExp(tree, chooseMode(plain));
    this.maxLen = maxBacktrackLength(plain, BACKTRACK_BUDGET);
    this.linear = compileLineRegex(pattern);
  }

  process(line: string, lb: LabelsBuilder): string {
    let m: RegExpExecArray | null = null;
    if (line.length <= this.maxLen) {
      try {
        m = this.js.exec(line);
      } catch {
        m = null;
      }
    } else if (this.linear.test(line)) {
      lb.setError(REGEXP_LONG_LINE_ERROR, `line of ${line.length} characters too long to extract submatches safely`);
      return line;
    }
    if (m === null) return line;
    for (const { name, index } of this.names) {
      const v = m[index];
      const key = lb.parsedName(name);
      if (!lb.extracted(key)) lb.set(Category.Parsed, key, v === undefined ? '' : normalise(v));
    }
    return line;
  }
}

/** Lone surrogates in a submatch become U+FFFD then a space, as Go's invalid UTF-8 would (parser.go removeInvalidUtf). */
function normalise(v: string): string {
  return v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ' ');
}
