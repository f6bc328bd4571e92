import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sprint, sprintf } from '../../src/gotemplate/fmt.js';
import { formatFloatV, parseGoFloat, quoteGo } from '../../src/gotemplate/strconv.js';
import { GoMap } from '../../src/gotemplate/values.js';

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });

describe('Go float formatting', () => {
  it('%v is the shortest text that reads back as the same float64', () => {
    fc.assert(
      fc.property(finite, (v) => {
        const s = formatFloatV(v);
        expect(Object.is(Number(s.replace(/^\+/, '')), v)).toBe(true);
        // Go switches to an exponent below 1e-4 and from 1e21... no: from 1e+06 on (%g, shortest, eprec 6).
        const exp = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
        if (Math.abs(exp) > 0 && (exp < -5 || exp > 7)) expect(s).toMatch(/e[+-]\d\d/);
      }),
      { numRuns: 5000 },
    );
  });

  it('%.Ne is correctly rounded, ties to even on the exact binary value', () => {
    fc.assert(
      fc.property(finite, fc.integer({ min: 0, max: 20 }), (v, p) => {
        const ours = sprintf(`%.${p}e`, [v]);
        // JavaScript rounds exact ties away from zero; every other case must agree digit for digit.
        const js = (Object.is(v, -0) ? '-' : '') + v.toExponential(p).replace(/e([+-])(\d)$/, 'e$10$2');
        if (ours !== js) {
          const exact = Math.abs(v).toExponential(100);
          const tail = exact.slice(2 + p, exact.indexOf('e'));
          expect(tail, `${v} %.${p}e: ours ${ours}, js ${js}`).toMatch(/^50*$/);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('rounds %f ties to even like strconv (JavaScript would round up)', () => {
    expect(sprintf('%.2f|%.2f|%.1f|%.0f|%.0f|%.0f', [0.125, 0.375, -0.25, 0.5, 1.5, 2.5])).toBe('0.12|0.38|-0.2|0|2|2');
    expect(sprintf('%.2f|%.2f', [2.675, 1.005])).toBe('2.67|1.00'); // below the tie in binary
    expect(sprintf('%.30f', [0.1])).toBe('0.100000000000000005551115123126');
    expect(sprintf('%f', [1e22])).toBe('10000000000000000000000.000000');
  });

  it('%g picks %e or %f as strconv does', () => {
    expect(sprintf('%g|%g|%g|%g|%g', [100000, 1e6, 1e-4, 1e-5, 0])).toBe('100000|1e+06|0.0001|1e-05|0');
    expect(sprintf('%.3g|%.3g|%.3g|%.10g', [1234.5, 0.00012345, 1e6, 1 / 3])).toBe('1.23e+03|0.000123|1e+06|0.3333333333');
    expect(sprintf('%G|%E', [1e-7, 12345.678])).toBe('1E-07|1.234568E+04');
  });

  it('handles flags, widths, infinities and NaN', () => {
    expect(sprintf('[%8.3f][%-8.3f][%08.3f][%+.2f][% .2f]', [Math.PI, Math.PI, -Math.PI, 1, 1])).toBe('[   3.142][3.142   ][-003.142][+1.00][ 1.00]');
    expect(sprintf('[%v][%v][%v][%6.1f][%06.1f][%+v]', [Infinity, -Infinity, NaN, Infinity, NaN, NaN])).toBe('[+Inf][-Inf][NaN][  +Inf][   NaN][+NaN]');
  });
});

describe('Go fmt verbs on other types', () => {
  it('ints, strings, bools, maps, nil', () => {
    expect(sprintf('%d|%5d|%-5d|%05d|%x|%X|%#x|%o|%b|%c|%q|%U', [42n, 42n, 42n, -42n, 255n, 255n, 255n, 8n, 5n, 0x263an, 65n, 0x1f600n])).toBe(
      '42|   42|42   |-0042|ff|FF|0xff|10|101|☺|\'A\'|U+1F600',
    );
    expect(sprintf('%s|%10s|%-4s|%.2s|%q|%x|% X', ['héllo', 'r', 'l', 'héllo', 'a"b\n', 'hi', 'hi'])).toBe('héllo|         r|l   |hé|"a\\"b\\n"|6869|68 69');
    expect(sprintf('%t|%v|%s', [true, false, new GoMap({ b: '2', a: '1' })])).toBe('true|false|map[a:1 b:2]');
    expect(sprintf('%v|%d|%s', [null, null, null])).toBe('<nil>|%!d(<nil>)|%!s(<nil>)');
  });

  it('reports bad verbs, missing and extra arguments, bad indexes as Go does', () => {
    expect(sprintf('%d', ['x'])).toBe('%!d(string=x)');
    expect(sprintf('%s', [1.5])).toBe('%!s(float64=1.5)');
    expect(sprintf('%d %d', [1n])).toBe('1 %!d(MISSING)');
    expect(sprintf('%d', [1n, 'a', 2.5])).toBe('1%!(EXTRA string=a, float64=2.5)');
    expect(sprintf('%[3]d', [1n])).toBe('%!d(BADINDEX)');
    expect(sprintf('%[2]s %[1]s', ['a', 'b'])).toBe('b a');
    expect(sprintf('%', [])).toBe('%!(NOVERB)');
    expect(sprintf('%*d|%-*d|', [4n, 7n, 3n, 1n])).toBe('   7|1  |');
  });

  it('Sprint spaces operands only between non-strings', () => {
    expect(sprint([1n, 2n, 'a', 'b', 3.5, true])).toBe('1 2ab3.5 true');
  });

  it('quotes like strconv.Quote', () => {
    expect(quoteGo('a"b\\c\n\t\x01\x7f é\u2028😀')).toBe('"a\\"b\\\\c\\n\\t\\x01\\x7f é\\u2028😀"');
  });

  it('parses floats with Go grammar', () => {
    expect(parseGoFloat('1e3')).toBe(1000);
    expect(parseGoFloat('-Inf')).toBe(-Infinity);
    expect(parseGoFloat('infinity')).toBe(Infinity);
    expect(Number.isNaN(parseGoFloat('NaN'))).toBe(true);
    expect(() => parseGoFloat(' 1')).toThrow('strconv.ParseFloat: parsing " 1": invalid syntax');
    expect(() => parseGoFloat('')).toThrow('invalid syntax');
    expect(() => parseGoFloat('1e400')).toThrow('value out of range');
  });
});
