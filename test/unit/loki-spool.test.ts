import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EncodedBatch } from '../../src/sinks/loki/encode.js';
import { SEGMENT_MAGIC } from '../../src/sinks/loki/segment.js';
import { Spool, type SpoolDropReason, type SpoolOptions } from '../../src/sinks/loki/spool.js';

const logger = pino({ level: 'silent' });

function batch(i: number, size = 100): EncodedBatch {
  const body = Buffer.alloc(size, i % 251);
  body.write(`batch#${i};`);
  return { format: i % 2 === 0 ? 'protobuf' : 'json', body, lines: i + 1 };
}

function idOf(b: EncodedBatch): number {
  return Number(/batch#(\d+);/.exec(b.body.toString('latin1'))![1]);
}

describe('loki spool', () => {
  let dir: string;
  let drops: { lines: number; reason: SpoolDropReason }[];
  let corrupt: string[];

  const make = (o: Partial<SpoolOptions> = {}): Spool =>
    new Spool({
      dir,
      maxBytes: 1024 * 1024,
      logger,
      onDrop: (lines, reason) => drops.push({ lines, reason }),
      onCorrupt: (_seg, why) => corrupt.push(why),
      ...o,
    });

  /** Read and ack everything, returning the batch ids in order (bounded). */
  async function drain(s: Spool): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const b = await s.peek();
      if (b === undefined) break;
      ids.push(idOf(b));
      s.ack(b.pos);
    }
    await s.flush();
    return ids;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    drops = [];
    corrupt = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns records in order with their bodies, and deletes segments once read', async () => {
    const s = make({ segmentBytes: 1000 });
    await s.open();
    expect(s.isEmpty).toBe(true);
    const input = Array.from({ length: 40 }, (_, i) => batch(i, 50 + i * 7));
    for (const b of input) s.append(b);
    expect(s.isEmpty).toBe(false);
    await s.flush();
    expect((await readdir(dir)).length).toBeGreaterThan(3); // rotated into several segments
    const first = await s.peek();
    expect(first).toMatchObject({ format: 'protobuf', lines: 1 });
    expect(first!.body.equals(input[0]!.body)).toBe(true);
    // Peeking again without an ack returns the same record (a retry).
    expect((await s.peek())!.pos).toEqual(first!.pos);
    expect(await drain(s)).toEqual(input.map((_, i) => i));
    expect(s.isEmpty).toBe(true);
    expect(s.bytes).toBe(0);
    expect(await readdir(dir)).toEqual([]);
    expect(drops).toEqual([]);
    await s.close();
  });

  it('replays what a previous run left, then appends after it, and ends empty', async () => {
    const a = make({ segmentBytes: 700 });
    await a.open();
    for (let i = 0; i < 10; i++) a.append(batch(i));
    await a.close();

    const b = make({ segmentBytes: 700 });
    await b.open();
    expect(b.isEmpty).toBe(false);
    expect(b.bytes).toBeGreaterThan(10 * 100);
    for (let i = 10; i < 15; i++) b.append(batch(i));
    expect(await drain(b)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    await b.close();
    expect(await readdir(dir)).toEqual([]);
  });

  it('skips a torn tail record (crash mid-write) once, keeping every complete record', async () => {
    const a = make();
    await a.open();
    for (let i = 0; i < 5; i++) a.append(batch(i));
    await a.close();
    const [seg] = await readdir(dir);
    const path = join(dir, seg!);
    await truncate(path, (await stat(path)).size - 37);

    const b = make();
    await b.open();
    expect(await drain(b)).toEqual([0, 1, 2, 3]);
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]).toMatch(/torn/);
    expect(await b.peek()).toBeUndefined();
    expect(b.isEmpty).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    await b.close();
  });

  it('treats a zero-filled tail as torn and a flipped byte as corrupt, then moves to the next segment', async () => {
    const a = make({ segmentBytes: 400 });
    await a.open();
    for (let i = 0; i < 9; i++) a.append(batch(i)); // 3 records per segment
    await a.close();
    const segs = (await readdir(dir)).sort();
    expect(segs).toHaveLength(3);
    // Segment 1: zeros after its records (filesystem extended the file, data never written).
    const p0 = join(dir, segs[0]!);
    await writeFile(p0, Buffer.concat([await readFile(p0), Buffer.alloc(64)]));
    // Segment 2: a flipped byte inside its second record's body.
    const p1 = join(dir, segs[1]!);
    const buf = await readFile(p1);
    const second = SEGMENT_MAGIC.length + 113 + 50;
    buf[second] = buf[second]! ^ 0xff;
    await writeFile(p1, buf);

    const b = make({ segmentBytes: 400 });
    await b.open();
    expect(await drain(b)).toEqual([0, 1, 2, 3, 6, 7, 8]);
    expect(corrupt).toHaveLength(2);
    expect(corrupt.join()).toMatch(/checksum/);
    expect(await readdir(dir)).toEqual([]);
    await b.close();
  });

  it('skips a segment without the header and an empty leftover file', async () => {
    await writeFile(join(dir, '00000000000000000001.seg'), Buffer.from('garbage, not a spool segment'));
    await writeFile(join(dir, '00000000000000000002.seg'), Buffer.alloc(0));
    await writeFile(join(dir, 'unrelated.txt'), 'kept');
    const s = make();
    await s.open();
    s.append(batch(7));
    expect(await drain(s)).toEqual([7]);
    expect(corrupt).toEqual(['missing segment header']);
    expect(await readdir(dir)).toEqual(['unrelated.txt']);
    await s.close();
  });

  it('stays within maxBytes by dropping the oldest segments, counting their lines', async () => {
    const s = make({ maxBytes: 2000, segmentBytes: 500 });
    await s.open();
    let total = 0;
    for (let i = 0; i < 60; i++) {
      s.append(batch(i));
      total += i + 1;
      expect(s.bytes).toBeLessThanOrEqual(2000);
    }
    await s.flush();
    const onDisk = (await Promise.all((await readdir(dir)).map((n) => stat(join(dir, n))))).reduce((a, st) => a + st.size, 0);
    expect(onDisk).toBeLessThanOrEqual(2000);
    const ids = await drain(s);
    expect(ids.length).toBeGreaterThan(5);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => 60 - ids.length + k)); // the newest, in order
    const kept = ids.reduce((a, i) => a + i + 1, 0);
    const dropped = drops.filter((d) => d.reason === 'spool_full').reduce((a, d) => a + d.lines, 0);
    expect(kept + dropped).toBe(total);
    await s.close();
  });

  it('counts the lines of a dropped segment left by a previous run', async () => {
    const a = make({ maxBytes: 100_000, segmentBytes: 500 });
    await a.open();
    for (let i = 0; i < 4; i++) a.append(batch(i)); // lines 1+2+3+4 = 10, in one segment
    await a.close();
    const b = make({ maxBytes: 700, segmentBytes: 500 });
    await b.open();
    b.append(batch(10, 500));
    await b.flush();
    expect(drops).toEqual([{ lines: 10, reason: 'spool_full' }]);
    expect(await drain(b)).toEqual([10]);
    await b.close();
  });

  it('drops a record larger than the whole spool, and ignores an ack for a dropped head', async () => {
    const s = make({ maxBytes: 1200, segmentBytes: 300 });
    await s.open();
    expect(s.append(batch(0, 5000))).toBeUndefined();
    expect(drops).toEqual([{ lines: 1, reason: 'spool_full' }]);
    s.append(batch(1));
    const head = await s.peek();
    expect(idOf(head!)).toBe(1);
    for (let i = 2; i < 20; i++) s.append(batch(i)); // pushes segment of record 1 out
    s.ack(head!.pos); // stale: must not skip the new head
    const ids = await drain(s);
    expect(ids[0]).toBeGreaterThan(1);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => ids[0]! + k));
    expect(ids[ids.length - 1]).toBe(19);
    await s.close();
  });

  it('accepts an ack for a record appended but not yet read (a batch spilled while in flight)', async () => {
    const s = make();
    await s.open();
    const pos = s.append(batch(0))!;
    s.append(batch(1));
    s.ack(pos);
    expect(await drain(s)).toEqual([1]);
    await s.close();
  });
});
