import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Backoff } from '../../src/sinks/backoff.js';
import type { EncodedBatch } from '../../src/sinks/loki/encode.js';
import { BatchQueue } from '../../src/sinks/loki/queue.js';
import { Spool } from '../../src/sinks/loki/spool.js';
import { rejectedLines } from '../../src/sinks/loki/transport.js';

const logger = pino({ level: 'silent' });
const batch = (i: number, size = 100): EncodedBatch => ({ format: 'protobuf', body: Buffer.alloc(size, i), lines: 1 });
const idOf = (b: EncodedBatch): number => b.body[0]!;

describe('loki batch queue', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loki-queue-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function drain(q: BatchQueue): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const b = await q.head();
      if (b === undefined) break;
      ids.push(idOf(b));
      q.ack(b);
    }
    return ids;
  }

  it('keeps order when the backlog moves to the spool while the head is in flight', async () => {
    const spool = new Spool({ dir, maxBytes: 1 << 20, logger, onDrop: () => {}, onCorrupt: () => {} });
    await spool.open();
    const q = new BatchQueue({ maxMemoryBytes: 1 << 20, onDrop: () => {}, onPush: () => {} });
    q.attachSpool(spool);
    q.push(batch(1));
    q.push(batch(2));
    const inflight = (await q.head())!;
    expect(idOf(inflight)).toBe(1);
    q.spill(); // Loki unreachable
    expect(q.spooling).toBe(true);
    expect(q.memoryLength).toBe(0);
    q.push(batch(3)); // spooled behind the others
    q.ack(inflight); // the send that was in flight succeeded after all
    expect(await drain(q)).toEqual([2, 3]);
    await spool.flush();
    expect(q.spooling).toBe(false); // drained: back to memory
    q.push(batch(4));
    expect(q.memoryLength).toBe(1);
    expect(await drain(q)).toEqual([4]);
    await spool.close();
    expect(await readdir(dir)).toEqual([]);
  });

  it('spools the whole backlog when memory is full, older spool content first', async () => {
    const spool = new Spool({ dir, maxBytes: 1 << 20, logger, onDrop: () => {}, onCorrupt: () => {} });
    await spool.open();
    spool.append(batch(1)); // left by a previous run
    const q = new BatchQueue({ maxMemoryBytes: 250, onDrop: () => {}, onPush: () => {} });
    q.push(batch(2)); // handed in before start
    q.attachSpool(spool);
    for (let i = 3; i <= 6; i++) q.push(batch(i));
    expect(q.memoryBytes).toBe(0);
    expect(await drain(q)).toEqual([1, 2, 3, 4, 5, 6]);
    await spool.close();
  });

  it('without a spool drops the oldest (never the batch in flight) and counts the lines', async () => {
    const dropped: number[] = [];
    const q = new BatchQueue({ maxMemoryBytes: 350, onDrop: (lines) => dropped.push(lines), onPush: () => {} });
    q.push(batch(1));
    const inflight = (await q.head())!;
    for (let i = 2; i <= 6; i++) q.push(batch(i));
    expect(q.memoryBytes).toBeLessThanOrEqual(350);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(3);
    q.ack(inflight);
    expect(await drain(q)).toEqual([5, 6]);
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

describe('rejectedLines', () => {
  it('sums Loki\'s per-stream "total ignored" counts, else counts the whole batch', () => {
    const body =
      "entry with timestamp 2026-02-27 03:14:07 +0000 UTC ignored, reason: 'entry too far behind',\n" +
      "user 'fake', total ignored: 3 out of 10 for stream: {job=\"a\"}\n" +
      "user 'fake', total ignored: 2 out of 4 for stream: {job=\"b\"}";
    expect(rejectedLines(body, 14)).toBe(5);
    expect(rejectedLines('invalid labels', 14)).toBe(14);
    expect(rejectedLines("total ignored: 99 out of 99", 14)).toBe(14);
  });
});
