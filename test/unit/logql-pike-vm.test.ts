/**
 * The linear-time submatch search (src/re2/pike-vm.ts) against real RE2
 * (re2-wasm, Google's C++ RE2, as test oracle only) and against the bounded
 * backtracker (re2/captures.ts): same match position and same groups.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RE2 } from 're2-wasm';
import { PikeRegex } from '../../src/re2/pike-vm.js';
import { compileSubmatchRegex } from '../../src/re2/captures.js';

function oracle(pattern: string, text: string): { index: number; groups: (string | undefined)[] } | null {
  const re = new RE2(pattern, 'u');
  const m = re.exec(text);
  if (m === null) return null;
  return { index: m.index, groups: [...m].map((g) => (g === undefined ? undefined : g)) };
}

describe('Pike VM submatches', () => {
  it.each([
    ['(?P<a>a|ab)(?P<b>c|bcd)', 'abcd'],
    ['(a*?)(a*)', 'aaa'],
    ['(a+)(b+)?', 'xaab'],
    ['(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+) - (\\S+)', 'from 127.0.0.1 - frank [x]'],
    ['^(\\w+) (\\S+) HTTP/(\\d\\.\\d)$', 'GET /index.html HTTP/1.1'],
    ['(?i)(straße)', 'STRASSE Straße'],
    ['(a|b)*c', 'ababc'],
    ['(?m)^(\\w+)$', 'x y\nzz\n'],
    ['\\b(\\w)(\\w*)\\b', '  hello world'],
    ['(x{2,3})(x*)', 'xxxxxx'],
    ['(x{2,3}?)(x*)', 'xxxxxx'],
    ['(😀+)(.)', 'a😀😀b'],
    ['()', ''],
    ['(a)|(b)', 'b'],
  ])('%s on %s', (p, text) => {
    const got = new PikeRegex(p).exec(text);
    expect(got).toEqual(oracle(p, text));
  });

  it('linear on inputs that defeat backtracking', () => {
    const p = '(a|aa)+(b)';
    const text = `${'a'.repeat(20_000)}c`;
    expect(() => compileSubmatchRegex(p).exec(text)).toThrow(/bounded work/);
    expect(new PikeRegex(p).exec(text)).toBeNull();
    expect(new PikeRegex(p).exec(`${'a'.repeat(20_000)}b`)?.groups[2]).toBe('b');
  });

  it('random patterns agree with RE2', () => {
    const atom = fc.constantFrom('a', 'b', '.', '[ab]', '\\d', 'x', '(a)', '(b|ab)', '(?:a|b)', '\\b', '^', '$', '(a*)', '(ab?)');
    const quant = fc.constantFrom('', '*', '+', '?', '*?', '+?', '??', '{1,2}', '{2}');
    const piece = fc.tuple(atom, quant).map(([a, q]) => (/^[\\^$]|^\\b$/.test(a) && q !== '' ? a : a + q));
    const pattern = fc.array(fc.oneof(piece, fc.tuple(piece, piece).map(([x, y]) => `(${x}|${y})`)), { minLength: 1, maxLength: 5 }).map((ps) => ps.join(''));
    const text = fc.array(fc.constantFrom('a', 'b', 'x', '1', ' ', 'ab'), { maxLength: 10 }).map((t) => t.join(''));
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 6 }), (p, texts) => {
        const vm = new PikeRegex(p);
        for (const t of texts) expect(vm.exec(t), `${p} on ${JSON.stringify(t)}`).toEqual(oracle(p, t));
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});
