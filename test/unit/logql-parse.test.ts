/**
 * LogQL parser: the seed rules, every supported construct, precedence and
 * constant folding as Loki does them, errors with line/column, and valid
 * LogQL outside the subset flagged `unsupported` with the construct named.
 */
import { describe, expect, it } from 'vitest';
import { type Expr, LogQLError } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { parseError } from '../helpers/parse-error.js';

/** The AST without positions, for structural comparisons. */
function shape(e: Expr): unknown {
  return JSON.parse(JSON.stringify(e, (k, v: unknown) => (k === 'pos' ? undefined : v)));
}


const sel = (filters: unknown[] = [], matchers: unknown[] = [{ name: 'a', op: '=', value: 'b' }]) => ({ matchers, filters, stages: [] });
const range = (fn: string, filters: unknown[] = [], rangeMs = 300_000) => ({ type: 'range', fn, selector: sel(filters), rangeMs });
const num = (value: number) => ({ type: 'number', value });
const bin = (op: string, lhs: unknown, rhs: unknown, bool = false) => ({ type: 'binary', op, bool, lhs, rhs });

describe('seed rules', () => {
  it('parses BTRFSCorruptionDetected with positions', () => {
    const e = parseExpr('sum(count_over_time({job="talos-kernel"} |= "parent transid verify failed" [5m])) > 0');
    expect(e).toEqual({
      type: 'binary',
      op: '>',
      bool: false,
      pos: { offset: 82, line: 1, column: 83 },
      lhs: {
        type: 'vector_agg',
        op: 'sum',
        grouping: undefined,
        pos: { offset: 0, line: 1, column: 1 },
        inner: {
          type: 'range',
          fn: 'count_over_time',
          rangeMs: 300_000,
          pos: { offset: 4, line: 1, column: 5 },
          selector: {
            pos: { offset: 20, line: 1, column: 21 },
            matchers: [{ name: 'job', op: '=', value: 'talos-kernel', pos: { offset: 21, line: 1, column: 22 } }],
            filters: [{ op: '|=', values: ['parent transid verify failed'], pos: { offset: 41, line: 1, column: 42 } }],
            stages: [],
          },
        },
      },
      rhs: { type: 'number', value: 0, pos: { offset: 84, line: 1, column: 85 } },
    });
  });

  it('parses ISCSIKernelError', () => {
    const e = parseExpr('sum(count_over_time({job="talos-kernel"} |~ "(?i)(iscsid|iscsi).*(error|failed|timeout|lost)" [5m])) > 0');
    expect(shape(e)).toEqual(
      bin('>', {
        type: 'vector_agg',
        op: 'sum',
        inner: {
          type: 'range',
          fn: 'count_over_time',
          rangeMs: 300_000,
          selector: {
            matchers: [{ name: 'job', op: '=', value: 'talos-kernel' }],
            filters: [{ op: '|~', values: ['(?i)(iscsid|iscsi).*(error|failed|timeout|lost)'] }],
            stages: [],
          },
        },
      }, num(0)),
    );
  });
});

describe('supported constructs', () => {
  it('label matchers =, !=, =~, !~ with both string syntaxes', () => {
    const e = parseExpr('rate({job="x", host!=`10.0.0.5`, svc=~"kube.*|etcd", level!~"debug|info"}[1m])');
    expect(shape(e)).toMatchObject({
      selector: {
        matchers: [
          { name: 'job', op: '=', value: 'x' },
          { name: 'host', op: '!=', value: '10.0.0.5' },
          { name: 'svc', op: '=~', value: 'kube.*|etcd' },
          { name: 'level', op: '!~', value: 'debug|info' },
        ],
      },
    });
  });

  it('line filters |=, !=, |~, !~ chained, with `or`', () => {
    const e = parseExpr('count_over_time({a="b"} |= "x" or "y" != "z" |~ `\\d+` or "(?i)err" !~ "debug" [1m])');
    expect(shape(e)).toEqual(
      range(
        'count_over_time',
        [
          { op: '|=', values: ['x', 'y'] },
          { op: '!=', values: ['z'] },
          { op: '|~', values: ['\\d+', '(?i)err'] },
          { op: '!~', values: ['debug'] },
        ],
        60_000,
      ),
    );
  });

  it('Go string escapes and raw strings', () => {
    const e = parseExpr(String.raw`count_over_time({a="b"} |= "tab\there \"q\" \\ \x41\u00e9\U0001F600\101\xc3\xa9" |= ` + '`raw \\d "x"`' + ' [1m])');
    expect(shape(e)).toMatchObject({
      selector: { filters: [{ values: ['tab\there "q" \\ Aé😀Aé'] }, { values: ['raw \\d "x"'] }] },
    });
  });

  it.each([
    ['count_over_time', 'count_over_time'],
    ['RATE', 'rate'],
    ['bytes_over_time', 'bytes_over_time'],
    ['bytes_rate', 'bytes_rate'],
    ['absent_over_time', 'absent_over_time'],
  ])('range aggregation %s', (written, fn) => {
    expect(shape(parseExpr(`${written}({a="b"}[5m])`))).toEqual(range(fn));
  });

  it.each([
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1d', 86_400_000],
    ['2w', 1_209_600_000],
    ['90s', 90_000],
  ])('range [%s]', (d, ms) => {
    expect(shape(parseExpr(`rate({a="b"}[${d}])`))).toEqual(range('rate', [], ms));
  });

  it('log range forms: pipeline before or after the range, parentheses', () => {
    const want = range('count_over_time', [{ op: '|=', values: ['x'] }]);
    for (const q of [
      'count_over_time({a="b"} |= "x" [5m])',
      'count_over_time({a="b"}[5m] |= "x")',
      'count_over_time(({a="b"} |= "x")[5m])',
      'count_over_time(({a="b"} |= "x" [5m]))',
      'count_over_time(\n  {a="b"}\n  |= "x"\n  [5m]\n)',
    ]) {
      expect(shape(parseExpr(q)), q).toEqual(want);
    }
  });

  it.each(['sum', 'count', 'min', 'max', 'avg'])('vector aggregation %s with grouping before or after', (op) => {
    const inner = range('rate');
    expect(shape(parseExpr(`${op}(rate({a="b"}[5m]))`))).toEqual({ type: 'vector_agg', op, inner });
    const by = { type: 'vector_agg', op, grouping: { without: false, labels: ['host', 'job'] }, inner };
    expect(shape(parseExpr(`${op} by (host, job) (rate({a="b"}[5m]))`))).toEqual(by);
    expect(shape(parseExpr(`${op}(rate({a="b"}[5m])) by (host,job)`))).toEqual(by);
    const without = { type: 'vector_agg', op, grouping: { without: true, labels: [] }, inner };
    expect(shape(parseExpr(`${op} WITHOUT () (rate({a="b"}[5m]))`))).toEqual(without);
  });

  it('nested aggregations', () => {
    expect(shape(parseExpr('max(sum by (host) (rate({a="b"}[5m])))'))).toEqual({
      type: 'vector_agg',
      op: 'max',
      inner: { type: 'vector_agg', op: 'sum', grouping: { without: false, labels: ['host'] }, inner: range('rate') },
    });
  });

  it('comments and keywords in any case', () => {
    const e = parseExpr('# BTRFS\nSUM BY (host) (Count_Over_Time({a="b"}[5m])) # per host\n> BOOL 0');
    expect(shape(e)).toEqual(
      bin('>', { type: 'vector_agg', op: 'sum', grouping: { without: false, labels: ['host'] }, inner: range('count_over_time') }, num(0), true),
    );
  });
});

describe('binary operators', () => {
  const r = range('rate');
  const R = 'rate({a="b"}[5m])';

  it('folds scalar arithmetic like Loki (literal legs reduced at parse time)', () => {
    expect(shape(parseExpr('1 + 2 * 3'))).toEqual(num(7));
    expect(shape(parseExpr('(1 + 2) * 3'))).toEqual(num(9));
    expect(shape(parseExpr('2 ^ 3 ^ 2'))).toEqual(num(512)); // right-associative
    expect(shape(parseExpr('10 - 4 - 3'))).toEqual(num(3)); // left-associative
    expect(shape(parseExpr('7 % 4 * 2'))).toEqual(num(6));
    expect(shape(parseExpr('-2 ^ 2'))).toEqual(num(4)); // LogQL: -2 is one literal
    expect(shape(parseExpr('1 - -1'))).toEqual(num(2));
    expect(shape(parseExpr('+3'))).toEqual(num(3));
    expect(shape(parseExpr('1 < 2'))).toEqual(num(1));
    expect(shape(parseExpr('2 == 3'))).toEqual(num(0));
    expect(shape(parseExpr('1.5e3 + .5'))).toEqual(num(1500.5));
    expect((parseExpr('1 / 0') as { value: number }).value).toBeNaN();
    expect((parseExpr('5 % 0') as { value: number }).value).toBeNaN();
  });

  it('gives * / % precedence over + -, + - over comparisons, ^ over all', () => {
    expect(shape(parseExpr(`${R} + 1 * 2`))).toEqual(bin('+', r, num(2)));
    expect(shape(parseExpr(`${R} * 2 + 1`))).toEqual(bin('+', bin('*', r, num(2)), num(1)));
    expect(shape(parseExpr(`${R} * 2 ^ 3`))).toEqual(bin('*', r, num(8)));
    expect(shape(parseExpr(`${R} ^ 2 ^ 3`))).toEqual(bin('^', r, num(8)));
    expect(shape(parseExpr(`2 ^ ${R}`))).toEqual(bin('^', num(2), r));
    expect(shape(parseExpr(`${R} > 1 + 1`))).toEqual(bin('>', r, num(2)));
    expect(shape(parseExpr(`(${R} + 1) * 2`))).toEqual(bin('*', bin('+', r, num(1)), num(2)));
    expect(shape(parseExpr(`${R} - 1 - 2`))).toEqual(bin('-', bin('-', r, num(1)), num(2)));
    expect(shape(parseExpr(`${R} / 2 % 3`))).toEqual(bin('%', bin('/', r, num(2)), num(3)));
    expect(shape(parseExpr(`${R} > bool 1 == 1`))).toEqual(bin('==', bin('>', r, num(1), true), num(1)));
    for (const op of ['==', '!=', '>', '>=', '<', '<=']) {
      expect(shape(parseExpr(`${R} ${op} bool 0`))).toEqual(bin(op, r, num(0), true));
      expect(shape(parseExpr(`0 ${op} ${R}`))).toEqual(bin(op, num(0), r));
    }
  });
});

describe('errors', () => {
  it('report line and column', () => {
    const e = parseError('sum(\n  count_over_time({job="x"}[5m])\n  ) >> 0');
    expect(e.unsupported).toBe(false);
    expect(e.pos).toEqual({ offset: 43, line: 3, column: 6 });
    expect(e.message).toBe('3:6: syntax error: unexpected ">", expected a number, "(", a log selector or an aggregation');
  });

  it('invalid regexes at the position of their string', () => {
    const e = parseError('count_over_time({job="x"}\n  |~ "(?i)(iscsi" [5m])');
    expect(e.pos).toEqual({ offset: 31, line: 2, column: 6 });
    expect(e.message).toContain('error parsing regexp: missing closing ): `(?i)(iscsi`');
    const m = parseError('rate({job=~"a{2,1}"}[1m])');
    expect(m.pos.column).toBe(12);
    expect(m.message).toContain('invalid repeat count');
    expect(parseError('rate({a="b"} !~ `\\1` [1m])').message).toContain('invalid escape sequence');
  });

  it.each([
    ['rate({a="b" [1m])', 1, 13, 'unexpected range [1m], expected "," or "}"'],
    ['rate({a="b"})', 1, 13, 'expected a range like [5m]'],
    ['rate({a="b"}[5x])', 1, 14, 'not a valid duration string: "5x"'],
    ['rate({a="b"}[5m]', 1, 17, 'unexpected end of input'],
    ['rate({a="b"} |= "\\q" [1m])', 1, 18, 'unknown escape sequence \\q'],
    ['rate({a="b"} |= "x\n" [1m])', 1, 17, 'literal not terminated'],
    ['{}', 1, 1, 'at least one regexp or equality matcher'],
    ['rate({a=~".*", b!="x"}[1m])', 1, 6, 'empty-compatible value'],
    ['{a="b"} |= "x"', 1, 1, 'only metric queries'],
    ['sum by (a) (rate({a="b"}[1m])) by (b)', 1, 32, 'grouping given twice'],
    ['count_over_time({a="b"}[1m]) by (a)', 1, 30, 'grouping not allowed for count_over_time'],
    ['sum(2, rate({a="b"}[1m]))', 1, 5, 'unsupported parameter for operation sum'],
    ['sum({a="b"})', 1, 5, 'not a log query'],
    ['- rate({a="b"}[1m])', 1, 3, 'expected a number after the sign'],
    ['rate({a="b"}[1m]) > ', 1, 21, 'unexpected end of input'],
    ['rate({a="b"}[1m]) @ 1', 1, 19, 'unexpected character "@"'],
    ['', 1, 1, 'unexpected end of input'],
  ])('%j → %i:%i %s', (q, line, column, text) => {
    const e = parseError(q);
    expect(e.unsupported).toBe(false);
    expect(e.message).toContain(text);
    expect([e.pos.line, e.pos.column]).toEqual([line, column]);
  });

  it('rejects inputs longer than Loki does', () => {
    const q = `count_over_time({a="b"} |= "${'x'.repeat(5200)}" [1m])`;
    expect(parseError(q).message).toContain('input size too long');
  });
});

describe('unsupported LogQL is flagged and named', () => {
  it.each([
    ['rate({a="b"}[0s])', 'a zero range'],
    // Not known to our parser: Grafana's grammar recognises them as valid LogQL.
    ['approx_topk(3, rate({a="b"}[1m]))', 'vector aggregation "approx_topk"'],
    // Issue #14: what stays out of the vector algebra (docs/logql-support.md "Vector algebra").
    ['count_over_time({a="b"}[5m] offset -1h)', 'a negative offset'],
  ])('%s', (q, what) => {
    const e = parseError(q);
    expect(e.unsupported).toBe(true);
    expect(e.message).toContain(what);
    expect(e.message).toMatch(/not supported/);
  });

  it('points at the unsupported construct', () => {
    const e = parseError('sum(\n  count_over_time({job="x"}\n    [5m]\n    offset -1h))');
    expect([e.pos.line, e.pos.column]).toEqual([4, 5]);
  });

  it('keeps genuine syntax errors as syntax errors', () => {
    for (const q of ['sum(rate({a="b"}[1m])', 'vector(', 'rate({a="b"}[1m]) > > 1', 'sort(']) {
      expect(parseError(q).unsupported, q).toBe(false);
    }
  });
});

describe('label filter precedence (syntax.y; trees from parser_test.go)', () => {
  const filters = (q: string): unknown => {
    const e = parseExpr(`count_over_time({app="foo"} ${q} [5m])`) as { selector: { stages: Array<{ k: string; filter?: unknown }> } };
    return e.selector.stages.filter((s) => s.k === 'label_filter').map((s) => s.filter);
  };
  const n = (name: string, op: string, value: number) => ({ k: 'number', name, op, value });
  const str = (name: string, op: string, value: string) => ({ k: 'string', name, op, value });
  const dur = (name: string, op: string, ms: number) => ({ k: 'duration', name, op, value: ms * 1e6 });
  it('or binds loosest, and tighter', () => {
    expect(filters('| json | status_code < 500 or status_code > 200 and latency >= 250ms')).toEqual([
      { k: 'or', left: n('status_code', '<', 500), right: { k: 'and', left: n('status_code', '>', 200), right: dur('latency', '>=', 250) } },
    ]);
    expect(filters('| json | latency >= 250ms or ( status_code < 500 and status_code > 200)')).toEqual([
      { k: 'or', left: dur('latency', '>=', 250), right: { k: 'and', left: n('status_code', '<', 500), right: n('status_code', '>', 200) } },
    ]);
    expect(filters('| json | (duration > 1s or status!= 200) and method!="POST"')).toEqual([
      { k: 'and', left: { k: 'or', left: dur('duration', '>', 1000), right: n('status', '!=', 200) }, right: str('method', '!=', 'POST') },
    ]);
  });
  it('comma and whitespace take everything to their right', () => {
    expect(filters('| foo="bar" buzz!="blip", blop=~"boop" or fuzz==5')).toEqual([
      { k: 'and', left: str('foo', '=', 'bar'), right: { k: 'and', left: str('buzz', '!=', 'blip'), right: { k: 'or', left: str('blop', '=~', 'boop'), right: n('fuzz', '==', 5) } } },
    ]);
  });
  it('bytes and duration literals, ip(), signed numbers', () => {
    expect(filters('| size >= 2.5KiB | took < 1.5s | a = ip("10.0.0.0/8") | n > -3')).toEqual([
      { k: 'bytes', name: 'size', op: '>=', value: 2560 },
      dur('took', '<', 1500),
      { k: 'ip', name: 'a', op: '=', pattern: '10.0.0.0/8' },
      n('n', '>', -3),
    ]);
  });
});
