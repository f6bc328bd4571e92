/**
 * Vector aggregations added for issue #14 (topk, bottomk, stddev, stdvar,
 * sort, sort_desc) and the NaN handling of min/max/avg. Expected values are
 * the documented results of Prometheus's aggregators.test (same data,
 * http_requests at 50m) — Loki's VectorAggEvaluator (pkg/logql/evaluator.go)
 * runs the same algorithms (Welford, bounded heaps with NaN first out).
 */
import { describe, expect, it } from 'vitest';
import { HTTP_REQUESTS, sample as s } from '../fixtures/promql/http-requests.js';
import { aggregate, type Sample } from '../../src/rules/instant-vector.js';

const H = HTTP_REQUESTS;
const by = (...labels: string[]) => ({ without: false, labels });
const vals = (v: readonly Sample[]) => v.map((x) => x.value);

describe('stddev / stdvar', () => {
  it('over everything and by instance', () => {
    expect(aggregate('stddev', undefined, H)[0]!.value).toBeCloseTo(229.12878474779, 9);
    expect(aggregate('stdvar', undefined, H)[0]!.value).toBeCloseTo(52500, 9);
    const byInstance = aggregate('stddev', by('instance'), H);
    expect(byInstance.map((x) => x.labels)).toEqual([{ instance: '0' }, { instance: '1' }]);
    for (const x of byInstance) expect(x.value).toBeCloseTo(223.60679774998, 9);
    expect(vals(aggregate('stdvar', by('instance'), H)).map((v) => Math.round(v))).toEqual([50000, 50000]);
  });
  it('identical values have zero deviation (float precision case)', () => {
    const same = [s({ a: '1' }, 13.3), s({ a: '2' }, 13.3), s({ a: '3' }, 13.3)];
    expect(aggregate('stddev', undefined, same)[0]!.value).toBe(0);
    expect(aggregate('stdvar', undefined, same)[0]!.value).toBe(0);
  });
});

describe('topk / bottomk', () => {
  it('keep the k largest/smallest with their own labels, best first', () => {
    expect(aggregate('topk', undefined, H, 3)).toEqual([H[7], H[6], H[5]]);
    expect(aggregate('bottomk', undefined, H, 3)).toEqual([H[0], H[1], H[2]]);
    const canaryApp = [H[6]!, H[7]!];
    expect(aggregate('topk', undefined, canaryApp, 5)).toEqual([H[7], H[6]]);
    expect(aggregate('bottomk', undefined, canaryApp, 5)).toEqual([H[6], H[7]]);
  });
  it('by (group)', () => {
    expect(aggregate('topk', by('group'), H, 1)).toEqual([H[5], H[7]]);
    const b = aggregate('bottomk', by('group'), H, 2);
    expect(b).toEqual([H[0], H[1], H[2], H[3]]);
  });
  it('NaN is pushed out first and sorts last', () => {
    const withNaN = [H[0]!, H[1]!, s({ job: 'api-server', instance: '2', group: 'production' }, NaN)];
    expect(vals(aggregate('topk', undefined, withNaN, 3))).toEqual([200, 100, NaN]);
    expect(vals(aggregate('bottomk', undefined, withNaN, 3))).toEqual([100, 200, NaN]);
    expect(vals(aggregate('topk', undefined, withNaN, 2))).toEqual([200, 100]);
    expect(vals(aggregate('bottomk', undefined, withNaN, 2))).toEqual([100, 200]);
  });
});

describe('sort / sort_desc', () => {
  it('order by value, labels kept', () => {
    const shuffled = [H[3]!, H[0]!, H[7]!, H[5]!];
    expect(aggregate('sort', undefined, shuffled)).toEqual([H[0], H[3], H[5], H[7]]);
    expect(aggregate('sort_desc', undefined, shuffled)).toEqual([H[7], H[5], H[3], H[0]]);
  });
});

describe('min / max / avg with NaN (Loki: a NaN group value is replaced by the next sample)', () => {
  it('min and max skip a leading NaN; all-NaN stays NaN', () => {
    const v = [s({ a: '1' }, NaN), s({ a: '2' }, 3), s({ a: '3' }, 1)];
    expect(aggregate('max', undefined, v)[0]!.value).toBe(3);
    expect(aggregate('min', undefined, v)[0]!.value).toBe(1);
    expect(aggregate('max', undefined, [s({}, NaN), s({ a: '1' }, NaN)])[0]!.value).toBeNaN();
  });
  it('avg keeps an infinite mean against finite samples', () => {
    expect(aggregate('avg', undefined, [s({ a: '1' }, Infinity), s({ a: '2' }, 5)])[0]!.value).toBe(Infinity);
    expect(aggregate('avg', undefined, [s({ a: '1' }, Infinity), s({ a: '2' }, -Infinity)])[0]!.value).toBeNaN();
    expect(aggregate('avg', undefined, [s({ a: '1' }, 1), s({ a: '2' }, 1), s({ a: '3' }, 2)])[0]!.value).toBe(4 / 3);
  });
});
