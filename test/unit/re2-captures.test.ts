/** src/re2/captures.ts: submatches against real RE2 (re2-wasm) as the oracle, and the bound on long texts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSubmatchRegex, SubmatchTooCostlyError } from '../../src/re2/captures.js';
import { parseRe2, type Re } from '../../src/re2/re2-syntax.js';
import { withOracle } from '../fixtures/regex-corpus/re2-oracle.js';

const corpusDir = new URL('../fixtures/regex-corpus/', import.meta.url);
const LINES: string[] = JSON.parse(readFileSync(new URL('lines.json', corpusDir), 'utf8'));
const PATTERNS: string[] = JSON.parse(readFileSync(new URL('patterns.json', corpusDir), 'utf8'));

/** Shapes written for submatches: named and numbered groups, alternation priority, lazy and greedy loops. */
const CAPTURING = [
  '(?P<dev>sd[a-z]+)',
  '(\\w+) \\(device (\\w+)',
  '(?i)(error|fail(ed)?)',
  '(a|ab)(c|bcd)(d*)',
  '(.*?)(\\d+)',
  '(.*)(\\d+)',
  '^\\[(\\w+)\\] (?P<task>task \\w+)',
  'mirror (\\d+) wanted (\\d+) found (\\d+)',
  '((a)|b)',
  '(x)?y',
  '(?s)(.+)$',
  '(?m)^(.*)$',
  '(é+)(\\PL)',
];

/** C++ RE2 differs from Go (which we follow) on lone surrogates and on \B next to non-ASCII (see logql-re2-differential.test.ts). */
function comparable(p: string, line: string): boolean {
  if (/[\ud800-\udfff]/.test(line.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) return false;
  return !(p.includes('\\B') && /[^\x00-\x7f]/.test(line));
}

/** A group inside a repetition: JS unsets it when a later iteration skips it, Go keeps it (documented). */
function capUnderRep(re: Re, inRep = false): boolean {
  switch (re.k) {
    case 'cap':
      return inRep || capUnderRep(re.sub, inRep);
    case 'cat':
    case 'alt':
      return re.subs.some((s) => capUnderRep(s, inRep));
    case 'rep':
      return capUnderRep(re.sub, re.max !== 1 || inRep);
    default:
      return false;
  }
}

describe('compileSubmatchRegex', () => {
  it('finds the same first match and groups as RE2 on the regex corpus', () => {
    let compared = 0;
    for (const pattern of [...CAPTURING, ...PATTERNS]) {
      withOracle(pattern, (oracle) => {
        if (oracle === undefined) return;
        if (capUnderRep(parseRe2(pattern, { captures: true }))) return;
        const re = compileSubmatchRegex(pattern);
        for (const line of [...LINES, 'abcd', 'abcdd', 'xy', 'y', 'b', 'ééé!']) {
          if (line.length > re.maxLength || !comparable(pattern, line)) continue;
          const ours = re.exec(line);
          const want = oracle.firstMatch(line);
          expect(ours === null ? null : { match: ours.groups[0], groups: ours.groups.slice(1) }, `${pattern} on ${JSON.stringify(line)}`).toEqual(want);
          compared++;
        }
      });
    }
    expect(compared).toBeGreaterThan(10_000);
  });

  it('numbers and names groups as Go does, searching from an offset', () => {
    const re = compileSubmatchRegex('(?P<a>x)(?:y)(z)(?<b>w)?');
    expect(re.groupNames).toEqual(['a', '', 'b']);
    const m = re.exec('xyz xyzw', 1);
    expect(m).toEqual({ index: 4, groups: expect.arrayContaining(['xyzw', 'x', 'z', 'w']) });
    expect(re.exec('xyz', 1)).toBeNull();
  });

  it('pins the one documented difference from Go: a group skipped by the last iteration is unset', () => {
    expect(compileSubmatchRegex('(?:(a)|b)+').exec('ab')?.groups[1]).toBeUndefined();
  });

  it('refuses a text too long to search with bounded work, and throws Go syntax errors', () => {
    const re = compileSubmatchRegex('(a*)*b');
    expect(re.maxLength).toBeLessThan(1_000_000);
    expect(() => re.exec('a'.repeat(re.maxLength + 1))).toThrow(SubmatchTooCostlyError);
    expect(() => compileSubmatchRegex('(x')).toThrow('error parsing regexp: missing closing ): `(x`');
  });
});
