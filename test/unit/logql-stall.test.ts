/**
 * Stall guard (not a speed test): adversarial pattern × line pairs — nested
 * quantifiers, ambiguous alternations, stacked `.*`, DFA state blow-up, 64 KiB
 * lines — must each finish far below a generous bound, and still give RE2's
 * answer. V8's backtracking alone takes seconds to forever on several of them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LineFilter } from '../../src/logql/ast.js';
import { LineFilterSet } from '../../src/logql/line-filter-set.js';
import { BACKTRACK_BUDGET, compileLabelRegex, compileLineRegex } from '../../src/re2/re2.js';
import { maxBacktrackLength } from '../../src/re2/re2-backtrack.js';
import { parseRe2 } from '../../src/re2/re2-syntax.js';
import { Re2Oracle } from '../fixtures/regex-corpus/re2-oracle.js';

// A catastrophic (exponential) regex on these inputs takes minutes; linear work takes a few ms.
// The bound sits far between the two so that a loaded machine (CI neighbours) cannot fail it
// while a real blow-up always does: this guards complexity, it is not a speed test.
const STALL_MS = 1500;

const PATTERNS = [
  '(a+)+b',
  '(a|a)*b',
  '(a|aa)*b',
  '(?:a?){25}a{25}',
  '.*.*.*x',
  '(.*a){12}',
  '(x+x+)+y',
  '(\\w+\\s?)+$',
  '^(a|aa)+$',
  '(\\d+)*$',
  '(iscsid|iscsi).*(error|failed)',
  '(?i)(iscsid|iscsi).*(error|failed|timeout|lost)',
  '(iscsid|iscsi)\\s.*(error|failed)',
  '[a-z]+@[a-z]+\\.com',
  'x\\d+y',
  'a.*b.*c.*d.*e',
  '(?s)(.*)(.*)(.*)(.*)z',
  '(a|b)*a(a|b){12}',
  '\\bfoo\\B',
  'a.*b\\d+',
  'sd[a-z]: .*error \\d+',
  '(?i)\\w+\\s+\\w+$',
];

function randomAB(n: number, seed: number): string {
  let s = '';
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += x & 0x10000 ? 'a' : 'b';
  }
  return s;
}

const LINES: string[] = [];
for (const n of [1000, 8192, 65536]) {
  LINES.push(
    'a'.repeat(n),
    `${'a'.repeat(n - 1)}!`,
    'iscsi '.repeat(Math.floor(n / 6)),
    'x'.repeat(n),
    '1'.repeat(n),
    `${'ab '.repeat(Math.floor(n / 3))}`,
    randomAB(n, n),
    `${'word '.repeat(Math.floor(n / 5))}!`,
    `a${'b1'.repeat(Math.floor(n / 2))}`,
    `sda: ${'error 1'.repeat(Math.floor(n / 7))}`,
  );
}

const oracles: Re2Oracle[] = [];
afterAll(() => {
  for (const o of oracles) o.free();
});

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const v = fn();
  return [v, performance.now() - t0];
}

describe('stall guard', () => {
  it.each(PATTERNS)('%s: every adversarial line well under the bound, same answer as RE2', (p) => {
    const re = compileLineRegex(p);
    const oracle = Re2Oracle.compile(p)!;
    oracles.push(oracle);
    const slow: string[] = [];
    for (const line of LINES) {
      const [got, ms] = timed(() => re.test(line));
      if (ms > STALL_MS) slow.push(`${line.length} units (${JSON.stringify(line.slice(0, 12))}…): ${ms.toFixed(1)} ms [${re.tier}]`);
      expect(got, `${p} on ${JSON.stringify(line.slice(0, 12))}… (${line.length})`).toBe(oracle.test(line));
    }
    expect(slow).toEqual([]);
  });

  it('routes catastrophic shapes away from backtracking', () => {
    for (const p of ['(a+)+b', '(a|a)*b', '(x+x+)+y', '(\\w+\\s?)+$', '(\\d+)*$', '(.*a){12}']) {
      expect(maxBacktrackLength(parseRe2(p), BACKTRACK_BUDGET), p).toBeLessThan(256);
      expect(compileLineRegex(p).tier, p).toBe('dfa');
    }
  });

  it('anchored label matchers on long values stay bounded too', () => {
    for (const p of ['(a+)+b', '^(a|aa)+$', '(a|b)*a(a|b){12}', '.*x.*y.*z']) {
      const m = compileLabelRegex(p);
      for (const v of ['a'.repeat(65536), randomAB(65536, 7)]) {
        const [, ms] = timed(() => m(v));
        expect(ms, `${p} on ${v.length}`).toBeLessThan(STALL_MS);
      }
    }
  });

  it('a LineFilterSet holding every adversarial filter stays bounded per line', () => {
    const set = new LineFilterSet();
    const pos = { offset: 0, line: 1, column: 1 };
    const ids = PATTERNS.map((p) => set.add([{ op: '|~', values: [p], pos } satisfies LineFilter]));
    set.build();
    const out: number[] = [];
    for (const line of LINES) {
      const [, ms] = timed(() => set.match(line, ids, out));
      expect(ms, `${line.length} units`).toBeLessThan(STALL_MS * 4);
    }
  });
});
