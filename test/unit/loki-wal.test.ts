import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { Wal, WAL_MAGIC, type WalOptions, type WalPos } from '../../src/sinks/loki/wal.js';
import { FrameWriter } from '../../src/sinks/loki/wal-record.js';

const logger = pino({ level: 'silent' });
const cache = new LabelSetCache();

function ev(i: number): LogEvent {
  return {
    timeMs: 1772162047000 + i,
    timeNsRem: (i * 7919) % 1_000_000,
    receivedMs: 0,
    line: `line ünï #${i}`,
    stream: cache.intern({ job: 'talos-kernel', host: `10.0.0.${i % 3}` }),
    metadata: i % 2 === 0 ? { facility: 'kern', seq: String(i) } : undefined,
    source: i % 2 === 0 ? 'kernel' : 'service',
  };
}

const idOf = (e: LogEvent): number => Number(/#(\d+)$/.exec(e.line)![1]);

describe('loki write-ahead log', () => {
  let dir: string;
  let drops: { lines: number; reason: string }[];
  let corrupt: string[];
  const fw = new FrameWriter();

  const make = (o: Partial<WalOptions> = {}): Wal => {
    const w = new Wal({ dir, maxBytes: 1 << 20, logger, onDrop: (lines, reason) => drops.push({ lines, reason }), onCorrupt: (why) => corrupt.push(why), ...o });
    w.open();
    return w;
  };

  /** Append events [from, to) in frames of `per`. */
  function write(w: Wal, from: number, to: number, per = 10): WalPos[] {
    const ends: WalPos[] = [];
    for (let i = from; i < to; i += per) {
      for (let k = i; k < Math.min(to, i + per); k++) fw.add(ev(k));
      ends.push(w.append(fw.take())!);
    }
    return ends;
  }

  /** Read everything from `from`, in reads of `maxBytes`; returns ids and the end. */
  async function readAll(w: Wal, from: WalPos, maxBytes = 512): Promise<{ ids: number[]; end: WalPos }> {
    const ids: number[] = [];
    let pos = from;
    for (let n = 0; n < 10_000; n++) {
      const r = await w.read(pos, maxBytes);
      if (r.events.length === 0 && r.end.seg === pos.seg && r.end.off === pos.off) break;
      for (const e of r.events) ids.push(idOf(e));
      pos = r.end;
    }
    return { ids, end: pos };
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loki-wal-'));
    drops = [];
    corrupt = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back every event as written, in order, across segments', async () => {
    const w = make({ segmentBytes: 4096 });
    write(w, 0, 300);
    expect(w.segmentCount).toBeGreaterThan(2);
    const { ids } = await readAll(w, w.acked);
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // Fields survive the round trip.
    const first = (await w.read(w.acked, 1)).events[0]!;
    expect(first).toEqual({ ...ev(0), receivedMs: 0 });
    expect(first.stream.key).toBe(ev(0).stream.key);
    w.close();
  });

  it('persists the acknowledged position: a reopen resends only what was not acknowledged, and finished segments are deleted', async () => {
    const w = make({ segmentBytes: 4096 });
    const ends = write(w, 0, 300);
    const segsBefore = w.segmentCount;
    w.ack(ends[19]!); // events 0..199 acknowledged
    expect(w.segmentCount).toBeLessThan(segsBefore);
    // kill -9: no close(); the ack file is already on disk.
    const w2 = make({ segmentBytes: 4096 });
    expect(w2.drained).toBe(false);
    const { ids, end } = await readAll(w2, w2.acked);
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => 200 + i));
    w2.ack(end);
    expect(w2.drained).toBe(true);
    expect(w2.pendingBytes).toBe(0);
    w2.close();
    const w3 = make();
    expect(w3.drained).toBe(true);
    expect((await w3.read(w3.acked, 1 << 20)).events).toEqual([]);
    w3.close();
  });

  it('skips a torn tail frame (kill -9 mid-write) and a corrupt one, counting each, keeping every whole frame', async () => {
    const w = make({ segmentBytes: 1 << 20 });
    write(w, 0, 50);
    const seg = join(dir, (await readdir(dir)).find((n) => n.endsWith('.wal'))!);
    const size = (await stat(seg)).size;
    await truncate(seg, size - 7); // last frame torn
    const w2 = make();
    expect((await readAll(w2, w2.acked)).ids).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(corrupt).toHaveLength(1);

    // A flipped byte in the middle frame: the rest of that segment is not trusted.
    const buf = await readFile(seg);
    buf[WAL_MAGIC.length + Math.floor((buf.length - WAL_MAGIC.length) / 2)]! ^= 0xff;
    await writeFile(seg, buf);
    corrupt = [];
    const w3 = make();
    const got = (await readAll(w3, w3.acked)).ids;
    expect(got.length).toBeLessThan(40);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
    expect(corrupt).toEqual(['checksum mismatch']);
  });

  it('stays within maxBytes by dropping the oldest segment, counting its unacknowledged lines', async () => {
    const w = make({ maxBytes: 16 * 1024, segmentBytes: 4096 });
    const ends = write(w, 0, 400);
    expect(w.bytes).toBeLessThanOrEqual(16 * 1024);
    await new Promise((r) => setTimeout(r, 50)); // drop counts are reported once counted
    const dropped = drops.reduce((a, d) => a + d.lines, 0);
    expect(drops.every((d) => d.reason === 'spool_full')).toBe(true);
    expect(dropped).toBeGreaterThan(0);
    const { ids } = await readAll(w, w.acked);
    // What is left is the newest part, whole: exactly the lines not counted as dropped.
    expect(ids).toEqual(Array.from({ length: 400 - dropped }, (_, i) => dropped + i));
    expect(ends.length).toBe(40);
    w.close();
  });

  it('replays from the oldest segment when the ack file is unreadable', async () => {
    const w = make();
    const ends = write(w, 0, 30);
    w.ack(ends[1]!);
    w.close();
    await writeFile(join(dir, 'ack'), 'garbage');
    const w2 = make();
    expect((await readAll(w2, w2.acked)).ids).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(corrupt[0]).toMatch(/ack/);
  });
});

describe('loki write-ahead log on a failing disk', () => {
  it('reports a write it cannot do (no throw) and recovers with a new segment when the disk is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loki-wal-'));
    try {
      const w = new Wal({ dir, maxBytes: 1 << 20, logger, onDrop: () => {}, onCorrupt: () => {} });
      w.open();
      const fw = new FrameWriter();
      fw.add(ev(1));
      expect(w.append(fw.take())).toBeDefined();
      // The directory disappears (unmounted volume): the write segment is gone too.
      await rm(dir, { recursive: true, force: true });
      // Writing to the still-open (deleted) file works; force a rotation by filling the segment's share.
      const big = { ...ev(2), line: 'x'.repeat(200_000) };
      fw.add(big);
      expect(w.append(fw.take())).toBeUndefined(); // cannot create the next segment
      fw.add(ev(3));
      expect(() => w.append(fw.take())).not.toThrow();
      await import('node:fs/promises').then((fs) => fs.mkdir(dir));
      fw.add(ev(4));
      const end = w.append(fw.take());
      expect(end).toBeDefined();
      const r = await w.read({ seg: end!.seg, off: 0 }, 1 << 20);
      expect(r.events.map(idOf)).toEqual([4]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
