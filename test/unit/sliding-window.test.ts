import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SlidingWindow, gridStepFor } from '../../src/rules/sliding-window.js';

/** Naive LogQL range count: entries with time in (t−d, t], nanosecond exact. */
function naive(events: Array<{ ms: number; ns: number; bytes: number }>, tMs: number, dMs: number) {
  const lo = BigInt(tMs - dMs) * 1_000_000n;
  const hi = BigInt(tMs) * 1_000_000n;
  let count = 0;
  let bytes = 0;
  for (const e of events) {
    const t = BigInt(e.ms) * 1_000_000n + BigInt(e.ns);
    if (t > lo && t <= hi) {
      count++;
      bytes += e.bytes;
    }
  }
  return { count, bytes };
}

describe('SlidingWindow', () => {
  it('covers (t−d, t]: an entry exactly d old is out, one at t is in', () => {
    const d = 300_000;
    const g = gridStepFor(d);
    expect(g).toBe(1000);
    const w = new SlidingWindow(d / g, g, true);
    const t = 1_700_000_000_000;
    w.add(w.bucketOf(t - d, 0), 10, -Infinity); // exactly 5m old at t: out
    w.add(w.bucketOf(t - d, 1), 20, -Infinity); // 1 ns younger: in
    w.add(w.bucketOf(t, 0), 40, -Infinity); // at t: in
    w.add(w.bucketOf(t, 1), 80, -Infinity); // 1 ns after t: not yet
    const out = { count: 0, bytes: 0 };
    w.query(t / g, out);
    expect(out).toEqual({ count: 2, bytes: 60 });
    w.query(t / g + 1, out);
    expect(out).toEqual({ count: 2, bytes: 120 });
  });

  it('matches a naive re-count at every grid instant on random timelines (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(60_000, 300_000, 10_000, 1_500),
        fc.array(
          fc.record({
            ms: fc.integer({ min: 0, max: 900_000 }),
            ns: fc.integer({ min: 0, max: 999_999 }),
            bytes: fc.integer({ min: 1, max: 500 }),
            // Arrival relative to the line's own time: late (replays, slow links) or early (sender clock ahead, ≤ 10 s).
            delay: fc.integer({ min: -10_000, max: 700_000 }),
          }),
          { maxLength: 200 },
        ),
        fc.array(fc.integer({ min: 0, max: 1_600_000 }), { minLength: 1, maxLength: 40 }),
        (d, rawEvents, rawTimes) => {
          const g = gridStepFor(d);
          const base = 1_700_000_000_000;
          const events = rawEvents.map((e) => ({ ...e, ms: base + e.ms, arrival: base + e.ms + e.delay })).sort((a, b) => a.arrival - b.arrival);
          const times = [...new Set(rawTimes.map((t) => Math.ceil((base + t) / g)))].sort((a, b) => a - b);
          const w = new SlidingWindow(d / g, g, true);
          const stored: typeof events = [];
          let ei = 0;
          let lastT = -Infinity;
          const out = { count: 0, bytes: 0 };
          for (const T of times) {
            for (; ei < events.length && events[ei]!.arrival <= T * g; ei++) {
              const e = events[ei]!;
              // A rejected line must be one no range from now on can contain: at or before T·g − d.
              if (w.add(w.bucketOf(e.ms, e.ns), e.bytes, lastT - d / g)) stored.push(e);
              else expect(BigInt(e.ms) * 1_000_000n + BigInt(e.ns)).toBeLessThanOrEqual(BigInt(T * g - d) * 1_000_000n);
            }
            w.query(T, out);
            lastT = T;
            expect(out).toEqual(naive(stored, T * g, d));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('uses memory proportional to its buckets, not to the match rate', () => {
    const w = new SlidingWindow(300, 1000, false);
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 200_000; i++) w.add(w.bucketOf(t0 + (i % 300_000), 0), 0, -Infinity);
    expect(w.entries().length).toBeLessThanOrEqual(300);
    const out = { count: 0, bytes: 0 };
    // (t0, t0+300s]: the entry at exactly t0 is out.
    w.query(Math.ceil((t0 + 299_999) / 1000), out);
    expect(out.count).toBe(199_999);
    w.query(Math.ceil((t0 + 299_999) / 1000) + 300, out);
    expect(out.count).toBe(0);
    expect(w.empty).toBe(true);
  });

  it('holds only buckets that have lines, gives memory back when a busy stream goes quiet, and reports it to its meter', () => {
    const meter = { bytes: 0 };
    const w = new SlidingWindow(300, 1000, true, meter);
    const t0 = 1_700_000_000_000;
    w.add(w.bucketOf(t0, 0), 10, -Infinity);
    const one = meter.bytes;
    expect(one).toBe(w.memoryBytes);
    expect(one).toBeLessThan(300);
    // A line every second for 5 minutes: at most the old ring's size.
    for (let i = 1; i < 300; i++) w.add(w.bucketOf(t0 + i * 1000, 0), 10, -Infinity);
    const busy = meter.bytes;
    expect(busy).toBeGreaterThan(one);
    expect(busy).toBeLessThanOrEqual(200 + 3 * 8 * 615);
    // Quiet: one line, four minutes later; the old buckets leave and the buffer shrinks.
    const late = t0 + 299_000 + 240_000;
    w.add(w.bucketOf(late, 0), 10, -Infinity);
    const out = { count: 0, bytes: 0 };
    w.query(Math.ceil(late / 1000), out);
    expect(out).toEqual({ count: 61, bytes: 610 });
    w.query(Math.ceil(late / 1000) + 299, out);
    expect(out).toEqual({ count: 1, bytes: 10 });
    expect(meter.bytes).toBeLessThan(busy / 8);
    w.release();
    expect(meter.bytes).toBe(0);
  });

  it('picks a grid step that divides the range', () => {
    for (const d of [1, 7, 500, 1500, 10_000, 60_000, 300_000, 3_600_000, 86_400_000, 7 * 86_400_000]) {
      const g = gridStepFor(d);
      expect(d % g).toBe(0);
      expect(d / g).toBeLessThanOrEqual(3600 * 25);
    }
  });
});
