import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/sinks/backoff.js';
import { OpenBatch } from '../../src/sinks/loki/batch.js';
import { BatchQueue, type QueuedBatch } from '../../src/sinks/loki/queue.js';

const batch = (i: number, size = 100): QueuedBatch => ({
  format: 'protobuf',
  body: Buffer.alloc(size, i),
  lines: 1,
  source: new OpenBatch(),
  walEnd: undefined,
  aside: false,
  resends: 0,
});
const idOf = (b: QueuedBatch): number => b.body[0]!;

function drain(q: BatchQueue): number[] {
  const ids: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const b = q.head();
    if (b === undefined) break;
    ids.push(idOf(b));
    q.ack(b);
  }
  return ids;
}

describe('loki batch queue', () => {
  it('is a FIFO that reports overflow past its bound', () => {
    let overflows = 0;
    const q = new BatchQueue({ maxMemoryBytes: 250, onOverflow: () => overflows++, onPush: () => {} });
    q.push(batch(1));
    q.push(batch(2));
    expect(overflows).toBe(0);
    q.push(batch(3));
    expect(overflows).toBe(1);
    expect(q.memoryBytes).toBe(300);
    expect(drain(q)).toEqual([1, 2, 3]);
    expect(q.memoryBytes).toBe(0);
  });

  it('drops the oldest on request, never the batch in flight, keeping order', () => {
    const q = new BatchQueue({ maxMemoryBytes: 1 << 20, onOverflow: () => {}, onPush: () => {} });
    q.push(batch(1));
    const inflight = q.head()!;
    for (let i = 2; i <= 6; i++) q.push(batch(i));
    const removed = q.dropOldest(300);
    expect(removed.map(idOf)).toEqual([2, 3, 4]);
    expect(q.memoryBytes).toBe(300);
    q.ack(inflight);
    expect(drain(q)).toEqual([5, 6]);
  });

  it('dropOldest(0) leaves only the batch in flight', () => {
    const q = new BatchQueue({ maxMemoryBytes: 1 << 20, onOverflow: () => {}, onPush: () => {} });
    q.push(batch(1));
    q.push(batch(2));
    const inflight = q.head()!;
    expect(q.dropOldest(0).map(idOf)).toEqual([2]);
    expect(q.length).toBe(1);
    q.ack(inflight);
    expect(q.length).toBe(0);
  });
});

describe('loki backoff', () => {
  it('doubles from min to max with jitter inside [d, 2d)', () => {
    const low = new Backoff(500, 5000, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    const high = new Backoff(500, 5000, () => 0.999);
    const d = [1, 2, 3, 4, 5].map(() => high.next());
    expect(d[0]).toBeGreaterThan(990);
    expect(d[0]).toBeLessThan(1000);
    expect(d[3]).toBe(4999); // range [4000, 5000): capped at max
    expect(d[4]).toBe(5000);
    low.reset();
    expect(low.next()).toBe(500);
  });
});
