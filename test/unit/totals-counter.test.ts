import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/metrics/registry.js';
import { TotalsCounter } from '../../src/metrics/totals-counter.js';

describe('TotalsCounter', () => {
  it('reports running totals at scrape time: sums equal label sets, advances by deltas, treats a drop as a reset, forgets', async () => {
    const registry = createRegistry({ processMetrics: false });
    let totals: Array<[Record<string, string>, number]> = [];
    const c = new TotalsCounter(registry, { name: 'x_total', help: 'x', labelNames: ['k'], totals: () => totals });
    const scrape = async () => (await registry.getSingleMetricAsString('x_total')).split('\n').filter((l) => l.startsWith('x_total')).sort();
    totals = [[{ k: 'a' }, 2], [{ k: 'a' }, 3], [{ k: 'b' }, 0]];
    expect(await scrape()).toEqual(['x_total{k="a"} 5', 'x_total{k="b"} 0']);
    totals = [[{ k: 'a' }, 4], [{ k: 'a' }, 3], [{ k: 'b' }, 1]];
    expect(await scrape()).toEqual(['x_total{k="a"} 7', 'x_total{k="b"} 1']);
    totals = [[{ k: 'a' }, 3], [{ k: 'b' }, 1]];
    expect(await scrape()).toEqual(['x_total{k="a"} 3', 'x_total{k="b"} 1']);
    c.forget({ k: 'b' });
    totals = [[{ k: 'a' }, 3]];
    expect(await scrape()).toEqual(['x_total{k="a"} 3']);
    totals = [[{ k: 'a' }, 3], [{ k: 'b' }, 2]];
    expect(await scrape()).toEqual(['x_total{k="a"} 3', 'x_total{k="b"} 2']);
  });
});
