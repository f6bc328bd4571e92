/** Identical-entry detection: what counts as a copy (Loki: same stream, nanosecond, line and structured metadata), and its bounds. */
import { describe, expect, it } from 'vitest';
import { IdenticalEntries } from '../../src/rules/identical-entries.js';
import { T0, ev } from '../helpers/timeline.js';

const H = 60_000;

describe('IdenticalEntries', () => {
  it('a copy is the same stream, nanosecond, line and metadata', () => {
    const ie = new IdenticalEntries(H);
    const a = ev(T0, 'line', {}, 7);
    expect(ie.isCopy(a, T0)).toBe(false);
    expect(ie.isCopy({ ...a }, T0)).toBe(true);
    expect(ie.isCopy(ev(T0, 'line', {}, 8), T0)).toBe(false);
    expect(ie.isCopy(ev(T0, 'line', { host: 'x' }, 7), T0)).toBe(false);
    expect(ie.isCopy({ ...a, metadata: { msg: 'x' } }, T0)).toBe(false);
    expect(ie.isCopy({ ...a, metadata: { msg: 'x' } }, T0)).toBe(true);
    expect(ie.isCopy({ ...a, metadata: { msg: 'y' } }, T0)).toBe(false);
    expect(ie.dropped).toBe(2);
  });

  it('entries older than the horizon are neither remembered nor matched (no window can count them)', () => {
    const ie = new IdenticalEntries(H);
    const old = ev(T0, 'x');
    expect(ie.isCopy(old, T0 + H)).toBe(false);
    expect(ie.isCopy(old, T0 + H)).toBe(false);
    expect(ie.size).toBe(0);
  });

  it('whole epochs are dropped as they age out', () => {
    const ie = new IdenticalEntries(H);
    for (let i = 0; i < 10; i++) ie.isCopy(ev(T0 + i, `l${i}`), T0);
    expect(ie.size).toBe(10);
    ie.sweep(T0 + 3 * H);
    expect(ie.size).toBe(0);
  });

  it('is capped: past maxEntries new entries go unrecorded and are counted', () => {
    const ie = new IdenticalEntries(H, 3);
    for (let i = 0; i < 4; i++) ie.isCopy(ev(T0, `l${i}`), T0);
    expect(ie.size).toBe(3);
    expect(ie.untracked).toBe(1);
    // A copy of a recorded entry is still recognised; one of the unrecorded one is not.
    expect(ie.isCopy(ev(T0, 'l0'), T0)).toBe(true);
    expect(ie.isCopy(ev(T0, 'l3'), T0)).toBe(false);
  });

  it('horizon 0 (no rules) remembers nothing', () => {
    const ie = new IdenticalEntries(0);
    expect(ie.isCopy(ev(T0, 'a'), T0)).toBe(false);
    expect(ie.isCopy(ev(T0, 'a'), T0)).toBe(false);
  });

  it('holds many entries in a compact table: every copy found after the table grew, no false copy, at most 32 bytes an entry', () => {
    const ie = new IdenticalEntries(H);
    const n = 50_000;
    for (let i = 0; i < n; i++) expect(ie.isCopy(ev(T0 + (i % 1000), `line ${i}`, { host: `h${i % 7}` }), T0)).toBe(false);
    expect(ie.size).toBe(n);
    let copies = 0;
    let fresh = 0;
    for (let i = 0; i < n; i += 7) {
      if (ie.isCopy(ev(T0 + (i % 1000), `line ${i}`, { host: `h${i % 7}` }), T0)) copies++;
      // Same line and time in another stream: not a copy.
      if (!ie.isCopy(ev(T0 + (i % 1000), `line ${i}`, { host: `other${i % 7}` }), T0)) fresh++;
    }
    expect(copies).toBe(Math.ceil(n / 7));
    expect(fresh).toBe(Math.ceil(n / 7));
    expect(ie.dropped).toBe(Math.ceil(n / 7));
    expect(ie.memoryBytes).toBeLessThanOrEqual(32 * ie.size);
    ie.sweep(T0 + 3 * H);
    expect(ie.size).toBe(0);
    expect(ie.memoryBytes).toBe(0);
  });
});
