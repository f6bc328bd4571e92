/**
 * RE2 syntax: what Go's regexp/syntax (Loki's parser) accepts and rejects,
 * with its error codes; cross-checked against real RE2 where C++ RE2 and Go
 * agree.
 */
import { describe, expect, it } from 'vitest';
import { Re2SyntaxError, parseRe2 } from '../../src/re2/re2-syntax.js';
import { compileLineRegex } from '../../src/re2/re2.js';
import { Re2Oracle } from '../fixtures/regex-corpus/re2-oracle.js';

function syntaxError(p: string): Re2SyntaxError {
  try {
    parseRe2(p);
  } catch (e) {
    if (e instanceof Re2SyntaxError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(p)} to be rejected`);
}

describe('RE2 syntax errors (Go regexp/syntax codes)', () => {
  const rejected: [pattern: string, code: string, expr: string][] = [
    ['(abc', 'missing closing )', '(abc'],
    ['abc)', 'unexpected )', 'abc)'],
    ['[abc', 'missing closing ]', '[abc'],
    ['a**', 'invalid nested repetition operator', '**'],
    ['a+*', 'invalid nested repetition operator', '+*'],
    ['x{2}{3}', 'invalid nested repetition operator', '{2}{3}'],
    ['*a', 'missing argument to repetition operator', '*'],
    ['a|*', 'missing argument to repetition operator', '*'],
    ['({2})', 'missing argument to repetition operator', '{2}'],
    ['a{1001}', 'invalid repeat count', '{1001}'],
    ['a{3,2}', 'invalid repeat count', '{3,2}'],
    ['(a{100}){100}', 'invalid repeat count', '{100}'],
    ['(a)\\1', 'invalid escape sequence', '\\1'],
    ['\\C', 'invalid escape sequence', '\\C'],
    ['a\\Z', 'invalid escape sequence', '\\Z'],
    ['\\e', 'invalid escape sequence', '\\e'],
    ['[\\b]', 'invalid escape sequence', '\\b'],
    ['\\x{110000}', 'invalid escape sequence', '\\x{110000'],
    ['\\xZ1', 'invalid escape sequence', '\\xZ1'],
    ['(?=a)', 'invalid or unsupported Perl syntax', '(?='],
    ['(?!a)', 'invalid or unsupported Perl syntax', '(?!'],
    ['(?i-)a', 'invalid or unsupported Perl syntax', '(?i-)'],
    ['(?-)a', 'invalid or unsupported Perl syntax', '(?-)'],
    ['(?x)a', 'invalid or unsupported Perl syntax', '(?x'],
    ['[z-a]', 'invalid character class range', 'z-a'],
    ['\\p{Foo}', 'invalid character class range', '\\p{Foo}'],
    ['\\p{Grek}', 'invalid character class range', '\\p{Grek}'],
    ['[[:foo:]]', 'invalid character class range', '[:foo:]'],
    ['(?P<>a)', 'invalid named capture', '(?P<>'],
    ['(?P<a-b>x)', 'invalid named capture', '(?P<a-b>'],
    ['(?P<name', 'invalid named capture', '(?P<name'],
    ['a\\', 'trailing backslash at end of expression', '\\'],
  ];

  it.each(rejected)('rejects %j with "%s"', (p, code, expr) => {
    const e = syntaxError(p);
    expect(e.code).toBe(code);
    expect(e.expr).toBe(expr);
    expect(e.message).toBe(`error parsing regexp: ${code}: \`${expr}\``);
    // The offset points at the offending piece (for "unexpected )" at the parenthesis).
    if (code === 'unexpected )') expect(p[e.offset]).toBe(')');
    else expect(p.slice(e.offset).startsWith(expr)).toBe(true);
  });

  it('rejects what RE2 rejects (where C++ RE2 agrees with Go)', () => {
    // \C is an RE2 (C++) extension Go does not have; (?-) and (?i-) are accepted by C++ RE2.
    const cppDiffers = new Set(['\\C', '(?i-)a', '(?-)a']);
    for (const [p] of rejected) {
      if (cppDiffers.has(p)) continue;
      expect(Re2Oracle.error(p), p).toBeDefined();
    }
  });

  it('rejects pathological sizes instead of building huge automata', () => {
    expect(syntaxError('((((a{10}){10}){10}){10})').code).toBe('invalid repeat count');
    expect(syntaxError('(?:[a-z]{1000}){1000}').code).toBe('invalid repeat count');
  });

  it('rejects deep nesting', () => {
    expect(syntaxError(`${'('.repeat(1001)}a${')'.repeat(1001)}`).code).toBe('expression nests too deeply');
  });
});

describe('RE2 syntax Go accepts', () => {
  const accepted = [
    'a{,2}', // not a repetition: literal text
    'x{01}', // leading zero: literal text
    'a{', 'a{b}', '(?)', '(?i)', '(?i:)', '(?U)a*', '(?-i:a)', '(?i-s:a.)', '(?P<n1>a)(?P<n1>b)', '(?<name>x)',
    '^*', '\\b+', '[]a]', '[^]a]', '[a-]', '[-a]', '[\\d\\pL[:alpha:]]', '\\Q*+?\\E', '\\Qunterminated', '\\_', '\\!',
    '\\012', '\\0', '\\x{10FFFF}', '[[:^space:]]', '\\p{^Greek}', '\\P{^L}', '\\pN', '\\p{Han}', '\\p{Cham}', '\\p{Any}',
    '(|a)', 'a||b', '',
  ];
  it.each(accepted)('accepts %j', (p) => {
    expect(() => parseRe2(p)).not.toThrow();
    expect(() => compileLineRegex(p)).not.toThrow();
  });

  it('parses the octal, hex and class escapes to the right characters', () => {
    expect(compileLineRegex('^\\012$').test('\n')).toBe(true);
    expect(compileLineRegex('^\\101\\x42\\x{43}$').test('ABC')).toBe(true);
    expect(compileLineRegex('^\\Q.*\\E$').test('.*')).toBe(true);
    expect(compileLineRegex('^\\Q.*\\E$').test('ab')).toBe(false);
    expect(compileLineRegex('^a{,2}$').test('a{,2}')).toBe(true);
    expect(compileLineRegex('^[]a]+$').test(']a]')).toBe(true);
  });
});
