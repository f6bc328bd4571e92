/**
 * Vector-vector operations with vector matching. Expected values are the
 * documented results of Prometheus's promql/promqltest/testdata/operators.test
 * (http_requests_total at 50m; node_cpu/node_role at 1m) — the same semantics
 * Loki's evaluator implements (pkg/logql/evaluator.go vectorBinop) — except
 * where Loki differs: division by zero is NaN (pkg/logql/evaluator_test.go
 * TestDefaultEvaluator_DivideByZero) and the error texts are Loki's.
 */
import { describe, expect, it } from 'vitest';
import { HTTP_REQUESTS, sample as s } from '../fixtures/promql/http-requests.js';
import type { VectorMatching } from '../../src/logql/ast.js';
import { aggregate, binary, type Sample } from '../../src/rules/instant-vector.js';
import { VectorMatchError, vectorBinop, vectorSetOp } from '../../src/rules/vector-match.js';

/** Samples as sorted `{k=v,…} value` strings. */
const show = (v: readonly Sample[]) =>
  v
    .map((x) => `{${Object.keys(x.labels).sort().map((k) => `${k}=${x.labels[k]}`).join(',')}} ${x.value}`)
    .sort();
const oneToOne: VectorMatching = { card: 'one-to-one', on: false, labels: [], include: [] };
const on = (...labels: string[]): VectorMatching => ({ card: 'one-to-one', on: true, labels, include: [] });
const ignoring = (...labels: string[]): VectorMatching => ({ card: 'one-to-one', on: false, labels, include: [] });

const H = HTTP_REQUESTS;
const sel = (m: Record<string, string>) => H.filter((x) => Object.entries(m).every(([k, v]) => x.labels[k] === v));
const plus1 = (v: Sample[]) => v.map((x) => s(x.labels, x.value + 1));
const sumByJob = aggregate('sum', { without: false, labels: ['job'] }, H);
const countByJob = aggregate('count', { without: false, labels: ['job'] }, H);

describe('arithmetic between vectors (one-to-one)', () => {
  it('SUM BY (job) - COUNT BY (job)', () => {
    expect(show(vectorBinop('-', false, oneToOne, sumByJob, countByJob))).toEqual(['{job=api-server} 996', '{job=app-server} 2596']);
  });
  it('SUM + SUM; COUNT ^ COUNT', () => {
    expect(show(vectorBinop('+', false, oneToOne, sumByJob, sumByJob))).toEqual(['{job=api-server} 2000', '{job=app-server} 5200']);
    expect(show(vectorBinop('^', false, oneToOne, countByJob, countByJob))).toEqual(['{job=api-server} 256', '{job=app-server} 256']);
  });
  it('/ on(instance, job) and / ignoring(group) keep the matching labels only', () => {
    const want = ['{instance=0,job=api-server} 3', '{instance=0,job=app-server} 1.4', '{instance=1,job=api-server} 2', '{instance=1,job=app-server} 1.3333333333333333'];
    expect(show(vectorBinop('/', false, on('instance', 'job'), sel({ group: 'canary' }), sel({ group: 'production' })))).toEqual(want);
    expect(show(vectorBinop('/', false, ignoring('group'), sel({ group: 'canary' }), sel({ group: 'production' })))).toEqual(want);
  });
  it('division and modulo by a zero sample give NaN in Loki (PromQL: ±Inf)', () => {
    const zero = [s({ job: 'api-server' }, 0), s({ job: 'app-server' }, 0)];
    for (const op of ['/', '%'] as const) {
      const r = vectorBinop(op, false, oneToOne, sumByJob, zero);
      expect(r).toHaveLength(2);
      for (const x of r) expect(x.value).toBeNaN();
    }
    // …so `x / 0 > 1` is empty.
    const ratio = { kind: 'vector' as const, samples: vectorBinop('/', false, oneToOne, sumByJob, zero) };
    expect(binary('>', false, ratio, { kind: 'scalar', value: 1 })).toEqual({ kind: 'vector', samples: [] });
  });
});

describe('comparisons between vectors', () => {
  it('== bool and != bool give 0/1 per matched pair', () => {
    expect(show(vectorBinop('==', true, oneToOne, sumByJob, sumByJob))).toEqual(['{job=api-server} 1', '{job=app-server} 1']);
    expect(show(vectorBinop('!=', true, oneToOne, sumByJob, sumByJob))).toEqual(['{job=api-server} 0', '{job=app-server} 0']);
  });
  it('without bool, filter and keep the left value', () => {
    const lhs = [s({ job: 'a' }, 5), s({ job: 'b' }, 1)];
    const rhs = [s({ job: 'a' }, 2), s({ job: 'b' }, 3)];
    expect(show(vectorBinop('>', false, oneToOne, lhs, rhs))).toEqual(['{job=a} 5']);
    expect(show(vectorBinop('<', false, oneToOne, lhs, rhs))).toEqual(['{job=b} 1']);
  });
  it('many-to-one without group_left fails even when the comparison would filter every match away', () => {
    const many = [s({ label: 'foo', job: 'test' }, 0), s({ label: 'bar', job: 'test' }, 1)];
    const one = [s({ job: 'test' }, 1)];
    for (const op of ['>', '>=', '<='] as const) {
      expect(() => vectorBinop(op, false, on('job'), many, one)).toThrow('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
    }
  });
  it('duplicate series on the "one" side fail with Loki\'s many-to-many text', () => {
    const dup = [s({ job: 'x', a: '1' }, 1), s({ job: 'x', a: '2' }, 2)];
    expect(() => vectorBinop('/', false, on('job'), [s({ job: 'x' }, 1)], dup)).toThrow(
      new VectorMatchError('found duplicate series on the right hand-side;many-to-many matching not allowed: matching labels must be unique on one side'),
    );
    const right: VectorMatching = { card: 'one-to-many', on: true, labels: ['job'], include: [] };
    expect(() => vectorBinop('/', false, right, dup, [s({ job: 'x' }, 1)])).toThrow('found duplicate series on the left hand-side;many-to-many');
  });
});

describe('group_left / group_right', () => {
  const nodeVar = [s({ instance: 'abc', job: 'node' }, 2)];
  const nodeRole = [s({ instance: 'abc', job: 'node', role: 'prometheus' }, 1)];
  const nodeCpu = [
    s({ instance: 'abc', job: 'node', mode: 'idle' }, 3),
    s({ instance: 'abc', job: 'node', mode: 'user' }, 1),
    s({ instance: 'def', job: 'node', mode: 'idle' }, 8),
    s({ instance: 'def', job: 'node', mode: 'user' }, 2),
  ];
  const left = (onLabels: boolean, labels: string[], include: string[]): VectorMatching => ({ card: 'many-to-one', on: onLabels, labels, include });
  const right = (onLabels: boolean, labels: string[], include: string[]): VectorMatching => ({ card: 'one-to-many', on: onLabels, labels, include });

  it('copies the role label from the "one" side', () => {
    const want = ['{instance=abc,job=node,role=prometheus} 2'];
    expect(show(vectorBinop('*', false, right(true, ['instance'], ['role']), nodeRole, nodeVar))).toEqual(want);
    expect(show(vectorBinop('*', false, left(true, ['instance'], ['role']), nodeVar, nodeRole))).toEqual(want);
    expect(show(vectorBinop('*', false, left(false, ['role'], ['role']), nodeVar, nodeRole))).toEqual(want);
    expect(show(vectorBinop('*', false, right(false, ['role'], ['role']), nodeRole, nodeVar))).toEqual(want);
    expect(show(vectorBinop('*', false, left(true, ['instance'], ['role']), nodeCpu, nodeRole))).toEqual([
      '{instance=abc,job=node,mode=idle,role=prometheus} 3',
      '{instance=abc,job=node,mode=user,role=prometheus} 1',
    ]);
  });
  it('ratio of total: node_cpu / on (instance) group_left sum by (instance,job)(node_cpu)', () => {
    const total = aggregate('sum', { without: false, labels: ['instance', 'job'] }, nodeCpu);
    expect(show(vectorBinop('/', false, left(true, ['instance'], []), nodeCpu, total))).toEqual([
      '{instance=abc,job=node,mode=idle} 0.75',
      '{instance=abc,job=node,mode=user} 0.25',
      '{instance=def,job=node,mode=idle} 0.8',
      '{instance=def,job=node,mode=user} 0.2',
    ]);
    const byMode = aggregate('sum', { without: false, labels: ['mode', 'job'] }, nodeCpu);
    const byJob = aggregate('sum', { without: false, labels: ['job'] }, nodeCpu);
    expect(show(vectorBinop('/', false, left(true, ['job'], []), byMode, byJob))).toEqual(['{job=node,mode=idle} 0.7857142857142857', '{job=node,mode=user} 0.21428571428571427']);
    // group_left(dummy): a label the "one" side lacks is removed, not set empty.
    const without = aggregate('sum', { without: true, labels: ['mode'] }, nodeCpu);
    expect(show(vectorBinop('/', false, left(false, ['mode'], ['dummy']), nodeCpu, without))).toHaveLength(4);
  });
  it('copies a label from a series with no labels in common (on() group_left(foo))', () => {
    const random = [s({ foo: 'bar' }, 0)];
    expect(show(vectorBinop('+', false, left(true, ['dummy'], ['foo']), nodeCpu.slice(0, 1), random))).toEqual(['{foo=bar,instance=abc,job=node,mode=idle} 3']);
  });
  it('two "many" samples that end with the same labels fail', () => {
    const many = [s({ job: 'x', a: '1' }, 1), s({ job: 'x', a: '2' }, 2)];
    expect(() => vectorBinop('*', false, left(true, ['job'], []), many.map((m) => s({ job: 'x' }, m.value)), [s({ job: 'x' }, 1)])).toThrow(
      'multiple matches for labels: grouping labels must ensure unique matches',
    );
  });
});

describe('and / or / unless', () => {
  it('and, with and without on/ignoring', () => {
    expect(show(vectorSetOp('and', oneToOne, sel({ group: 'canary' }), sel({ instance: '0' })))).toEqual([
      '{group=canary,instance=0,job=api-server} 300',
      '{group=canary,instance=0,job=app-server} 700',
    ]);
    const want = ['{group=canary,instance=0,job=api-server} 301', '{group=canary,instance=0,job=app-server} 701'];
    const prod0 = sel({ instance: '0', group: 'production' });
    expect(show(vectorSetOp('and', on('instance', 'job'), plus1(sel({ group: 'canary' })), prod0))).toEqual(want);
    expect(show(vectorSetOp('and', on('instance'), plus1(sel({ group: 'canary' })), prod0))).toEqual(want);
    expect(show(vectorSetOp('and', ignoring('group'), plus1(sel({ group: 'canary' })), prod0))).toEqual(want);
    expect(show(vectorSetOp('and', ignoring('group', 'job'), plus1(sel({ group: 'canary' })), prod0))).toEqual(want);
    // AND ON (dummy) vector(1): everything.
    expect(vectorSetOp('and', on('dummy'), H, [s({}, 1)])).toHaveLength(8);
    expect(vectorSetOp('and', ignoring('group', 'instance', 'job'), H, [s({}, 1)])).toHaveLength(8);
  });
  it('or drops right samples whose labels the left has', () => {
    expect(show(vectorSetOp('or', oneToOne, plus1(sel({ group: 'canary' })), sel({ instance: '1' })))).toEqual([
      '{group=canary,instance=0,job=api-server} 301',
      '{group=canary,instance=0,job=app-server} 701',
      '{group=canary,instance=1,job=api-server} 401',
      '{group=canary,instance=1,job=app-server} 801',
      '{group=production,instance=1,job=api-server} 200',
      '{group=production,instance=1,job=app-server} 600',
    ]);
    const a = [s({ l: 'x' }, 10), s({ l: 'y' }, 20)];
    expect(show(vectorSetOp('or', on('instance'), plus1(sel({ group: 'canary' })), [...H, ...a]))).toEqual([
      '{group=canary,instance=0,job=api-server} 301',
      '{group=canary,instance=0,job=app-server} 701',
      '{group=canary,instance=1,job=api-server} 401',
      '{group=canary,instance=1,job=app-server} 801',
      '{l=x} 10',
      '{l=y} 20',
    ]);
  });
  it('unless', () => {
    const want = ['{group=canary,instance=1,job=api-server} 400', '{group=canary,instance=1,job=app-server} 800'];
    expect(show(vectorSetOp('unless', oneToOne, sel({ group: 'canary' }), sel({ instance: '0' })))).toEqual(want);
    expect(vectorSetOp('unless', on('job'), sel({ group: 'canary' }), sel({ instance: '0' }))).toEqual([]);
    expect(show(vectorSetOp('unless', on('job', 'instance'), sel({ group: 'canary' }), sel({ instance: '0' })))).toEqual(want);
    expect(vectorSetOp('unless', ignoring('group', 'instance'), sel({ group: 'canary' }), sel({ instance: '0' }))).toEqual([]);
    expect(show(vectorSetOp('unless', ignoring('group'), sel({ group: 'canary' }), sel({ instance: '0' })))).toEqual(want);
  });
  it('empty sides (Loki short-cuts)', () => {
    expect(vectorSetOp('and', oneToOne, [], H)).toEqual([]);
    expect(vectorSetOp('or', oneToOne, [], H)).toHaveLength(8);
    expect(vectorSetOp('unless', oneToOne, H, [])).toHaveLength(8);
  });
});

describe('vector and literal (Loki LiteralStepEvaluator, MergeBinOp)', () => {
  const v = { kind: 'vector' as const, samples: [20, 21, 22, 23].map((x) => s({ i: String(x) }, x)) };
  const lit = (value: number) => ({ kind: 'scalar' as const, value });
  const values = (r: ReturnType<typeof binary>) => (r.kind === 'vector' ? r.samples.map((x) => x.value) : [r.value]);
  it('v > 20 and 20 < v both keep the vector value (evaluator_test.go TestLiteralStepEvaluator)', () => {
    expect(values(binary('>', false, v, lit(20)))).toEqual([21, 22, 23]);
    expect(values(binary('<', false, lit(20), v))).toEqual([21, 22, 23]);
  });
  it('each operator with the literal on either side', () => {
    expect(values(binary('-', false, lit(2), { kind: 'vector', samples: sumByJob }))).toEqual([-998, -2598]);
    expect(values(binary('%', false, { kind: 'vector', samples: sumByJob }, lit(3)))).toEqual([1, 2]);
    expect(values(binary('^', false, { kind: 'vector', samples: sumByJob }, lit(2)))).toEqual([1000000, 6760000]);
    expect(values(binary('/', false, lit(1000), { kind: 'vector', samples: sumByJob }))).toEqual([1, 0.38461538461538464]);
    expect(values(binary('/', false, { kind: 'vector', samples: sumByJob }, lit(0))).every(Number.isNaN)).toBe(true);
    expect(values(binary('%', false, lit(1), { kind: 'vector', samples: [s({}, 0)] })).every(Number.isNaN)).toBe(true);
    expect(values(binary('==', true, { kind: 'vector', samples: sumByJob }, lit(1000)))).toEqual([1, 0]);
    expect(values(binary('>=', false, lit(1000), { kind: 'vector', samples: sumByJob }))).toEqual([1000]);
    expect(values(binary('!=', false, { kind: 'vector', samples: sumByJob }, lit(1000)))).toEqual([2600]);
  });
});

describe('every operator with the literal on each side (MergeBinOp: arithmetic in operand order, comparisons keep the vector sample)', () => {
  const v = { kind: 'vector' as const, samples: [0, 2, 5].map((x) => s({ x: String(x) }, x)) };
  const two = { kind: 'scalar' as const, value: 2 };
  const run = (op: Parameters<typeof binary>[0], left: boolean, bool = false) => {
    const r = left ? binary(op, bool, two, v) : binary(op, bool, v, two);
    return r.kind === 'vector' ? r.samples.map((x) => x.value) : [r.value];
  };
  it.each([
    ['+', [2, 4, 7], [2, 4, 7]],
    ['-', [-2, 0, 3], [2, 0, -3]],
    ['*', [0, 4, 10], [0, 4, 10]],
    ['/', [0, 1, 2.5], [NaN, 1, 0.4]],
    ['%', [0, 0, 1], [NaN, 0, 2]],
    ['^', [0, 4, 25], [1, 4, 32]],
    ['==', [2], [2]],
    ['!=', [0, 5], [0, 5]],
    ['>', [5], [0]],
    ['<', [0], [5]],
    ['>=', [2, 5], [0, 2]],
    ['<=', [0, 2], [2, 5]],
  ] as const)('v %s 2 and 2 %s v', (op, right, left) => {
    expect(run(op, false)).toEqual(right);
    expect(run(op, true)).toEqual(left);
  });
  it('bool gives 0/1 in operand order', () => {
    expect(run('>', false, true)).toEqual([0, 0, 1]);
    expect(run('>', true, true)).toEqual([1, 0, 0]);
    expect(run('==', true, true)).toEqual([0, 1, 0]);
  });
});
