/** Issue 16 part 4/9: an expensive rule waits between line-triggered evaluations; cheap ones never do. */
import { describe, expect, it } from 'vitest';
import { EvalPacer, runSliced, type DirtyMark } from '../../src/rules/eval-pacer.js';

describe('EvalPacer', () => {
  it('never defers a cheap rule', () => {
    const p = new EvalPacer<object>(() => {});
    const rule = {};
    p.record(rule, 0.05);
    expect(p.defer(rule, { causeMs: 1, maxEventMs: 1 })).toBe(false);
  });

  it('defers an expensive rule, merges its marks and hands them back when due (≤ 20% duty)', async () => {
    const handed: Array<ReadonlyMap<object, DirtyMark>> = [];
    const p = new EvalPacer<object>((m) => handed.push(m));
    const rule = {};
    const started = performance.now();
    p.record(rule, 10);
    expect(p.defer(rule, { causeMs: 5, maxEventMs: 100 })).toBe(true);
    expect(p.defer(rule, { causeMs: 3, maxEventMs: 90 })).toBe(true);
    expect(p.deferred).toBe(2);
    await new Promise((r) => setTimeout(r, 150));
    expect(handed).toHaveLength(1);
    expect(handed[0]!.get(rule)).toEqual({ causeMs: 3, maxEventMs: 100 });
    // 10 ms of work → wait 40 ms: at most a fifth of the time.
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
  });

  it('hands back what waits when stopped, and defers nothing afterwards', () => {
    const handed: Array<ReadonlyMap<object, DirtyMark>> = [];
    const p = new EvalPacer<object>((m) => handed.push(m));
    const rule = {};
    p.record(rule, 50);
    expect(p.defer(rule, { causeMs: 1, maxEventMs: 1 })).toBe(true);
    p.stop();
    expect(handed).toHaveLength(1);
    expect(p.defer(rule, { causeMs: 1, maxEventMs: 1 })).toBe(false);
  });
});

describe('runSliced', () => {
  it('yields to the event loop between slices and stops when the work became invalid', async () => {
    // Counts event-loop turns: an immediate that re-arms itself runs once per turn, so it
    // advances only when runSliced really yields (no wall-clock timer to race on a loaded machine).
    let ticks = 0;
    let stop = false;
    const tick = (): void => {
      ticks++;
      if (!stop) setImmediate(tick);
    };
    setImmediate(tick);
    const done: number[] = [];
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    await runSliced([1, 2, 3, 4, 5, 6], (i) => (busy(6), done.push(i)), 10, () => true);
    stop = true;
    expect(done).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ticks).toBeGreaterThanOrEqual(2);
    let valid = true;
    const partial: number[] = [];
    await runSliced([1, 2, 3, 4], (i) => (busy(11), partial.push(i), (valid = false)), 10, () => valid);
    expect(partial).toEqual([1]);
  });
});
