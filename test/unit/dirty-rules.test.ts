/** The engine's touched-rule marks: one entry per rule per batch, earliest cause, latest event, marks made while draining wait for the next batch. */
import { describe, expect, it } from 'vitest';
import { DirtyRules } from '../../src/rules/dirty-rules.js';

describe('DirtyRules', () => {
  it('merges marks of one rule and drains in marking order', () => {
    const d = new DirtyRules(4);
    d.mark(2, 100, 1000);
    d.mark(0, 105, 900);
    d.mark(2, 90, 1200);
    d.mark(2, 110, 1100);
    expect(d.size).toBe(2);
    expect(d.has(2) && d.has(0) && !d.has(1)).toBe(true);
    const seen: Array<[number, number, number]> = [];
    d.drain((id, c, m) => seen.push([id, c, m]));
    expect(seen).toEqual([
      [2, 90, 1200],
      [0, 105, 900],
    ]);
    expect(d.size).toBe(0);
    expect(d.has(2)).toBe(false);
  });

  it('a mark made while draining goes to the next batch; a nested drain waits', () => {
    const d = new DirtyRules(3);
    d.mark(1, 1, 1);
    const first: number[] = [];
    d.drain((id) => {
      first.push(id);
      d.mark(1, 2, 2);
      d.mark(2, 3, 3);
      d.drain(() => first.push(-1));
    });
    expect(first).toEqual([1]);
    const second: Array<[number, number, number]> = [];
    d.drain((id, c, m) => second.push([id, c, m]));
    expect(second).toEqual([
      [1, 2, 2],
      [2, 3, 3],
    ]);
  });

  it('reset forgets marks and resizes for a new rule set', () => {
    const d = new DirtyRules(2);
    d.mark(1, 1, 1);
    d.reset(5);
    expect(d.size).toBe(0);
    d.mark(4, 7, 8);
    const got: number[] = [];
    d.drain((id) => got.push(id));
    expect(got).toEqual([4]);
  });
});
