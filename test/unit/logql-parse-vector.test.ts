/**
 * Parser, issue #14 constructs: binary-operation modifiers (bool, on,
 * ignoring, group_left, group_right), vector-vector and set operations,
 * offset, topk/bottomk parameters, stddev/stdvar/sort/sort_desc, vector(),
 * label_replace — shapes and error texts as Loki's parser
 * (pkg/logql/syntax/syntax.y, ast.go, parser_test.go) gives them.
 */
import { describe, expect, it } from 'vitest';
import { type BinaryExpr, type Expr, LogQLError, type RangeAggExpr, type VectorAggExpr } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { parseError } from '../helpers/parse-error.js';


/** Compact form: operators, modifiers and leaves, no positions or selectors. */
function tree(e: Expr): unknown {
  switch (e.type) {
    case 'range':
      return `${e.fn}[${e.rangeMs}${e.offsetMs ? ` offset ${e.offsetMs}` : ''}]`;
    case 'number':
      return e.value;
    case 'vector':
      return `vector(${e.value})`;
    case 'vector_agg':
      return [e.op + (e.param !== undefined ? `(${e.param})` : '') + (e.grouping ? `${e.grouping.without ? ' without' : ' by'}(${e.grouping.labels})` : ''), tree(e.inner)];
    case 'label_replace':
      return ['label_replace', e.dst, e.replacement, e.src, e.regex, tree(e.inner)];
    case 'binary': {
      const m = e.matching;
      const mod = m === undefined ? '' : `${m.on ? ` on(${m.labels})` : m.labels.length ? ` ignoring(${m.labels})` : ''}${m.card === 'many-to-one' ? ` group_left(${m.include})` : m.card === 'one-to-many' ? ` group_right(${m.include})` : ''}`;
      return [e.op + (e.bool ? ' bool' : '') + mod, tree(e.lhs), tree(e.rhs)];
    }
  }
}

const C = 'count_over_time({app="foo"}[1m])';
const c = 'count_over_time[60000]';

describe('vector-vector operations', () => {
  it('one-to-one by default; on, ignoring, group_left, group_right with and without labels', () => {
    expect(tree(parseExpr(`${C} / ${C}`))).toEqual(['/', c, c]);
    expect(tree(parseExpr(`${C} / on(host, job) ${C}`))).toEqual(['/ on(host,job)', c, c]);
    expect(tree(parseExpr(`${C} / ignoring(level) ${C}`))).toEqual(['/ ignoring(level)', c, c]);
    expect(tree(parseExpr(`${C} / ignoring() ${C}`))).toEqual(['/', c, c]);
    expect(tree(parseExpr(`${C} * on(host) group_left ${C}`))).toEqual(['* on(host) group_left()', c, c]);
    expect(tree(parseExpr(`${C} * on(host) group_left() ${C}`))).toEqual(['* on(host) group_left()', c, c]);
    expect(tree(parseExpr(`${C} * ignoring(x) group_right(role, team) ${C}`))).toEqual(['* ignoring(x) group_right(role,team)', c, c]);
  });

  it('Loki parser_test: > bool on () group_right (app)', () => {
    const e = parseExpr('sum by (app,machine) (count_over_time({app="foo"}[1m])) > bool on () group_right (app) sum by (app) (count_over_time({app="foo"}[1m]))') as BinaryExpr;
    expect(e.op).toBe('>');
    expect(e.bool).toBe(true);
    expect(e.matching).toEqual({ card: 'one-to-many', on: true, labels: [], include: ['app'] });
    expect((e.lhs as VectorAggExpr).grouping).toEqual({ without: false, labels: ['app', 'machine'] });
  });

  it('keywords are case-insensitive', () => {
    expect(tree(parseExpr(`${C} AND ON(host) ${C}`))).toEqual(['and on(host)', c, c]);
    expect(tree(parseExpr(`${C} > BOOL IGNORING(x) GROUP_LEFT ${C}`))).toEqual(['> bool ignoring(x) group_left()', c, c]);
  });

  it('precedence: or < and/unless < comparisons < + - < * / % < ^ (right-assoc)', () => {
    expect(tree(parseExpr(`${C} or ${C} and ${C}`))).toEqual(['or', c, ['and', c, c]]);
    expect(tree(parseExpr(`${C} and ${C} unless ${C}`))).toEqual(['unless', ['and', c, c], c]);
    expect(tree(parseExpr(`${C} + ${C} > ${C} * 2 or vector(0)`))).toEqual(['or', ['>', ['+', c, c], ['*', c, 2]], 'vector(0)']);
    expect(tree(parseExpr(`${C} ^ ${C} ^ 2`))).toEqual(['^', c, ['^', c, 2]]);
  });

  it('the issue\'s ratio', () => {
    const e = parseExpr('sum by (job) (rate({job="x"} |= "error" [5m])) / sum by (job) (rate({job="x"}[5m])) > 0.05');
    expect(tree(e)).toEqual(['>', ['/', ['sum by(job)', 'rate[300000]'], ['sum by(job)', 'rate[300000]']], 0.05]);
  });

  it('a literal leg drops vector matching (Loki evaluates it against every series)', () => {
    const e = parseExpr(`${C} > on(host) 1`) as BinaryExpr;
    expect(e.matching).toBeUndefined();
    expect(tree(parseExpr(`2 * ignoring(x) ${C}`))).toEqual(['*', 2, c]);
  });

  it('bool is accepted on any operator and only changes comparisons (Loki has no check)', () => {
    expect(tree(parseExpr(`${C} + bool 1`))).toEqual(['+', c, 1]);
    expect(tree(parseExpr(`${C} and bool ${C}`))).toEqual(['and', c, c]);
    expect(tree(parseExpr(`${C} == bool ${C}`))).toEqual(['== bool', c, c]);
    // Both legs literal: folded (comparisons to 0/1) whatever the modifier.
    expect(tree(parseExpr('1 > 1 > bool 1'))).toEqual(0);
  });

  it('set operators refuse a literal leg (ast.go mustNewBinOpExpr)', () => {
    expect(parseError(`${C} and 1`).message).toContain('unexpected literal for right leg of logical/set binary operation (and): 1.000000');
    expect(parseError(`2.5 or ${C}`).message).toContain('unexpected literal for left leg of logical/set binary operation (or): 2.500000');
    expect(parseError(`${C} unless 1`).unsupported).toBe(false);
  });

  it('a modifier needs on/ignoring before group_left, and labels in parentheses', () => {
    expect(parseError(`${C} * group_left ${C}`).unsupported).toBe(false);
    expect(parseError(`${C} * on host ${C}`).message).toContain('expected "("');
    expect(parseError(`${C} * on(host,) ${C}`).message).toContain('expected a label name');
  });
});

describe('offset', () => {
  it('in every log-range shape', () => {
    const off = (q: string) => (parseExpr(q) as RangeAggExpr).offsetMs;
    expect(off('count_over_time({a="b"}[5m] offset 1h)')).toBe(3_600_000);
    expect(off('count_over_time(({a="b"})[5m] offset 10m)')).toBe(600_000);
    expect(off('rate({a="b"} |= "x" [5m] offset 30s)')).toBe(30_000);
    expect(off('rate({a="b"}[5m] offset 1h30m |= "x")')).toBe(5_400_000);
    expect(off('absent_over_time({a="b"}[5m] OFFSET 2m)')).toBe(120_000);
    expect(off('rate({a="b"}[5m] offset 0s)')).toBeUndefined();
    expect(off('rate({a="b"}[5m])')).toBeUndefined();
  });
  it('inside aggregations and binary operations', () => {
    expect(tree(parseExpr('sum(rate({a="b"}[5m])) / sum(rate({a="b"}[5m] offset 1d))'))).toEqual(['/', ['sum', 'rate[300000]'], ['sum', 'rate[300000 offset 86400000]']]);
  });
  it('needs a duration; a negative one is valid LogQL we do not run', () => {
    expect(parseError('rate({a="b"}[5m] offset)').unsupported).toBe(false);
    expect(parseError('rate({a="b"}[5m] offset 5)').message).toContain('expected a duration');
    const neg = parseError('rate({a="b"}[5m] offset -5m)');
    expect(neg.unsupported).toBe(true);
    expect(neg.message).toContain('a negative offset');
  });
});

describe('aggregations', () => {
  it('topk/bottomk take k; stddev/stdvar/sort/sort_desc take none', () => {
    expect(tree(parseExpr(`topk(3, ${C})`))).toEqual(['topk(3)', c]);
    expect(tree(parseExpr(`bottomk by (host) (2, ${C})`))).toEqual(['bottomk(2) by(host)', c]);
    expect(tree(parseExpr(`topk(1, ${C}) without (level)`))).toEqual(['topk(1) without(level)', c]);
    for (const op of ['stddev', 'stdvar', 'sort', 'sort_desc']) expect(tree(parseExpr(`${op}(${C})`))).toEqual([op, c]);
    expect(tree(parseExpr(`stddev by (host) (${C})`))).toEqual(['stddev by(host)', c]);
  });
  it.each([
    [`topk(${C})`, 'parameter required for operation topk'],
    [`topk(0, ${C})`, 'invalid parameter (must be greater than 0) topk(0'],
    [`bottomk(1.5, ${C})`, 'invalid parameter bottomk(1.5,'],
    [`sum(2, ${C})`, 'unsupported parameter for operation sum(2,'],
    [`stddev(2, ${C})`, 'unsupported parameter for operation stddev(2,'],
    [`sort by (host) (${C})`, "sort and sort_desc doesn't allow grouping by"],
    [`sort_desc(${C}) without (host)`, "sort and sort_desc doesn't allow grouping by"],
  ])('%s → %s', (q, msg) => {
    const e = parseError(q);
    expect(e.unsupported).toBe(false);
    expect(e.message).toContain(msg);
  });
  it('sort by () is allowed (no labels)', () => {
    expect(tree(parseExpr(`sort by () (${C})`))).toEqual(['sort by()', c]);
  });
});

describe('vector() and label_replace()', () => {
  it('vector(s), alone and in operations', () => {
    expect(tree(parseExpr('vector(1)'))).toEqual('vector(1)');
    expect(tree(parseExpr(`sum(${C}) or vector(0)`))).toEqual(['or', ['sum', c], 'vector(0)']);
    expect(parseError('vector(-1)').unsupported).toBe(false);
    expect(parseError('vector(a)').unsupported).toBe(false);
  });
  it('label_replace(v, dst, replacement, src, regex)', () => {
    expect(tree(parseExpr(`label_replace(${C}, "dst", "$1-x", "src", "(.*)-y")`))).toEqual(['label_replace', 'dst', '$1-x', 'src', '(.*)-y', c]);
    expect(tree(parseExpr(`sum(label_replace(rate({a="b"}[5m]), "h", "$1", "host", "([^.]+)\\\\..*")) by (h)`))).toEqual([
      'sum by(h)',
      ['label_replace', 'h', '$1', 'host', '([^.]+)\\..*', 'rate[300000]'],
    ]);
    expect(parseError(`label_replace(${C}, "d", "$1", "s", "(")`).message).toContain('invalid regex in label_replace');
    expect(parseError(`label_replace(${C}, "d", "$1", "s")`).unsupported).toBe(false);
  });
});

describe('constant expressions', () => {
  it('fold as Loki does (reduceBinOp): x/0 and x%0 are NaN', () => {
    expect(tree(parseExpr('1 + 2 * 3'))).toEqual(7);
    expect((parseExpr('1 / 0') as { value: number }).value).toBeNaN();
    expect((parseExpr('5 % 0') as { value: number }).value).toBeNaN();
    expect(tree(parseExpr('2 ^ 3 ^ 2'))).toEqual(512);
    expect(tree(parseExpr('(1 > 2) + (3 >= 3)'))).toEqual(1);
  });
});

describe('pipelines under every node are checked at load', () => {
  it('a bad line_format template inside label_replace, a binary side or an aggregation is refused', () => {
    const bad = 'count_over_time({job="x"} | line_format "{{ .a " [5m])';
    for (const q of [`label_replace(${bad}, "d", "$1", "s", "(.*)")`, `sum(${bad}) / 2`, `1 + sum by (job) (${bad})`, `topk(2, ${bad})`]) {
      expect(() => parseExpr(q), q).toThrow(/invalid line template/);
    }
  });
});
