/**
 * How regexes are answered: Loki-style simplification into literal plans,
 * the literals the prefilter requires, which tier the planner picks, and the
 * lazy DFA's bounded state cache.
 */
import { describe, expect, it } from 'vitest';
import { LazyDfa } from '../../src/re2/re2-dfa.js';
import { literalPlan, requiredLiterals } from '../../src/re2/re2-literals.js';
import { parseRe2 } from '../../src/re2/re2-syntax.js';
import { compileLabelRegex, compileLineRegex } from '../../src/re2/re2.js';
import { Re2Oracle } from '../fixtures/regex-corpus/re2-oracle.js';

const plan = (p: string) => literalPlan(parseRe2(p));
const lit = (text: string, fold = false) => ({ text, fold });

describe('literal plans (Loki simplifier, generalised)', () => {
  it('turns the seed regex into an ordered, case-folded substring search', () => {
    expect(plan('(?i)(iscsid|iscsi).*(error|failed|timeout|lost)')).toEqual({
      kind: 'seq',
      parts: [
        [lit('iscsid', true), lit('iscsi', true)],
        [lit('error', true), lit('failed', true), lit('timeout', true), lit('lost', true)],
      ],
      crossNL: false,
    });
  });

  it.each([
    ['foo', [[lit('foo')]], false],
    ['(?i)foo', [[lit('foo', true)]], false],
    ['foo|bar', [[lit('foo'), lit('bar')]], false],
    ['.*foo.*', [[lit('foo')]], false],
    ['b(ar|uzz)', [[lit('bar'), lit('buzz')]], false],
    ['(?i)k[ae]y', [[lit('kay', true), lit('key', true)]], false],
    ['(?s)foo.*bar', [[lit('foo')], [lit('bar')]], true],
    ['foo.*(a|).*bar', [[lit('foo')], [lit('bar')]], false],
    ['foo.*(a|)bar', [[lit('foo')], [lit('abar'), lit('bar')]], false],
    ['a{2,3}b', [[lit('aab'), lit('aaab')]], false],
  ])('%s', (p, parts, crossNL) => {
    expect(plan(p)).toEqual({ kind: 'seq', parts, crossNL });
  });

  it('knows what always matches and what needs a regex engine', () => {
    for (const p of ['', '.*', '(?s).*', '(?:)', 'x*']) expect(plan(p), p).toEqual(p === 'x*' ? undefined : { kind: 'always' });
    for (const p of ['.+', '^foo', 'foo$', '\\bfoo', 'a.b', 'a.*b(?s).*c', '(?i)foo(?-i)Bar', '\\d+', 'a\\x{FFFD}']) {
      expect(plan(p), p).toBeUndefined();
    }
  });
});

describe('required literals (prefilter)', () => {
  it.each([
    ['(?i)(iscsid|iscsi).*(error|failed|timeout|lost)', [['iscsi'], ['error', 'failed', 'timeout', 'lost']]],
    ['parent transid verify failed', [['parent transid verify failed']]],
    ['BTRFS (error|warning) \\(device \\w+', [['btrfs error (device ', 'btrfs warning (device ']]],
    ['error: .*code=\\d+', [['error: '], ['code=']]],
    ['sd[a-z]\\d*: .*I/O error', [['i/o error'], ['sd'], [': ']]],
    ['x+y', [['x'], ['y']]],
    ['(foo|bar\\d)baz', [['foo', 'bar'], ['baz']]],
    ['(?i)straße', [['straße']]],
  ])('%s', (p, groups) => {
    expect(requiredLiterals(parseRe2(p))).toEqual(groups);
  });

  it('requires nothing where a match can avoid every literal', () => {
    for (const p of ['\\d+', 'a*', 'foo|\\d', '(?:error)?', '[a-z]+', '.']) expect(requiredLiterals(parseRe2(p)), p).toEqual([]);
  });
});

describe('tier choice', () => {
  it.each([
    ['(?i)(iscsid|iscsi).*(error|failed|timeout|lost)', 'literal'],
    ['parent transid verify failed', 'literal'],
    ['(?i)error|fail', 'literal'],
    ['\\d+ms', 'backtrack'],
    ['sd[a-z]: .*error', 'backtrack'],
    ['sd[a-z]: .*error \\d+', 'backtrack'], // a trailing loop either fails at once or ends the search
    ['sd[a-z]+: .*error', 'dfa'], // two unbounded loops: cubic worst case, so only the DFA
    ['^BTRFS', 'backtrack'],
    ['(a+)+b', 'dfa'],
    ['(\\w+\\s?)+$', 'dfa'],
    ['\\Bfoo', 'dfa'],
  ])('%s → %s', (p, tier) => {
    expect(compileLineRegex(p).tier).toBe(tier);
  });

  it('memoises compiled regexes', () => {
    expect(compileLineRegex('x\\d+y')).toBe(compileLineRegex('x\\d+y'));
    expect(compileLabelRegex('kube.*')).toBe(compileLabelRegex('kube.*'));
  });

  it('label matchers: exact sets, anchoring, empty values', () => {
    const m = compileLabelRegex('kernel|kubelet|etcd');
    expect(['kernel', 'kubelet', 'etcd', 'kernel2', '', 'xkernel'].map(m)).toEqual([true, true, true, false, false, false]);
    const pre = compileLabelRegex('talos-.*');
    expect(['talos-kernel', 'talos-', 'x-talos-kernel'].map(pre)).toEqual([true, true, false]);
    expect(compileLabelRegex('')('')).toBe(true);
    expect(compileLabelRegex('.+')('')).toBe(false);
    expect(compileLabelRegex('10\\.0\\.0\\.\\d+')('10.0.0.15')).toBe(true);
    expect(compileLabelRegex('(?i)KERNEL')('kernel')).toBe(true);
  });
});

describe('lazy DFA', () => {
  it('flushes its state cache on state blow-up and stays correct', () => {
    // (a|b)*a(a|b){14}: the DFA needs 2^15 states; the cache holds far fewer.
    const p = '(a|b)*a(a|b){14}c';
    const dfa = new LazyDfa(parseRe2(p), false);
    let x = 12345;
    let line = '';
    for (let i = 0; i < 40000; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      line += x & 0x10000 ? 'a' : 'b';
    }
    const oracle = Re2Oracle.compile(p)!;
    try {
      for (const s of [line, `${line}c`, `${line.slice(0, 20000)}c${line.slice(20000)}`]) {
        expect(dfa.test(s)).toBe(oracle.test(s));
      }
    } finally {
      oracle.free();
    }
    expect(dfa.flushes).toBeGreaterThan(0);
    // It grew to the bound on the way: 10 000 states of its classes.
    expect(dfa.tableCells).toBe(10_001 * dfa.classCount);
  });

  it('allocates table rows as states are discovered, keeping known transitions when it grows', () => {
    const p = '(?i)(btrfs|ext4|xfs).*(error|corrupt|critical)';
    const dfa = new LazyDfa(parseRe2(p), false);
    const before = dfa.tableCells;
    expect(before).toBeLessThanOrEqual(16 * dfa.classCount);
    const lines = ['BTRFS error (device sda1)', 'XFS (sdb): metadata I/O error', 'ext4 ok', 'nothing here', 'ext4-fs CRITICAL medium', 'xfs corrup'];
    const oracle = Re2Oracle.compile(p)!;
    try {
      for (let round = 0; round < 3; round++) {
        for (const s of lines) expect(dfa.test(s), s).toBe(oracle.test(s));
      }
    } finally {
      oracle.free();
    }
    // A few dozen states at most: a small fraction of the 4 MiB bound.
    expect(dfa.tableCells).toBeGreaterThan(before);
    expect(dfa.tableCells * 4).toBeLessThan(256 * 1024);
    expect(dfa.flushes).toBe(0);
  });
});
