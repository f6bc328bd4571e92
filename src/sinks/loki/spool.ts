/**
 * Durable FIFO of encoded batches for while Loki is unreachable: append-only
 * segment files in one directory (`<20-digit seq>.seg`), read back in order,
 * a segment deleted once every record in it is sent. Bounded by `maxBytes`:
 * when full, the oldest segment is dropped (its lines counted).
 *
 * Bookkeeping (positions, sizes) is synchronous so callers see a consistent
 * queue at once; file I/O runs behind it, serialised on one promise chain, so
 * it never blocks the event loop and reads always see earlier appends.
 * Records are not fsynced one by one: a killed process loses nothing the
 * kernel has accepted; sealing a segment and close() sync it to disk.
 */
import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { EncodedBatch } from './encode.js';
import { encodeFrame, frameBytes, SEGMENT_MAGIC, SegmentReader } from './segment.js';

export interface SpoolPosition {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

export interface SpooledBatch extends EncodedBatch {
  readonly pos: SpoolPosition;
}

export type SpoolDropReason = 'spool_full' | 'spool_error';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  /** Rotation size; default maxBytes/8 clamped to [1 KiB, 64 MiB], so dropping the oldest frees a fair share. */
  segmentBytes?: number;
  logger: Logger;
  /** Lines lost to the size bound or to a failed write. */
  onDrop(lines: number, reason: SpoolDropReason): void;
  /** A torn or corrupt region was skipped while reading. */
  onCorrupt(segment: string, why: string): void;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Bytes appended, including writes still queued. */
  size: number;
  /** Bytes known to be on disk. Readers never look past this. */
  written: number;
  /** Lines in the segment; unknown for segments found at start until counted. */
  lines: number | undefined;
  /** No more appends (rotated, restored from a previous run, or a write failed). */
  sealed: boolean;
  /** Removed from the spool (sent, dropped or corrupt); queued writes are skipped. */
  removed: boolean;
  /** Queued file operations (create, appends) not yet done: until 0, more data may appear. */
  pending: number;
  writer: FileHandle | undefined;
}

const SEGMENT_NAME = /^(\d{20})\.seg$/;

export class Spool {
  private readonly segments: Segment[] = [];
  private nextSeq = 1;
  private totalBytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly segmentBytes: number;

  // Read head: always in segments[0].
  private readOffset = 0;
  private reader: { seq: number; fh: FileHandle; r: SegmentReader } | undefined;
  private closed = false;

  constructor(private readonly opts: SpoolOptions) {
    this.segmentBytes = opts.segmentBytes ?? Math.min(64 * 1024 * 1024, Math.max(1024, Math.floor(opts.maxBytes / 8)));
  }

  /** Create the directory and take over segments left by a previous run (they are replayed first). */
  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const names = (await readdir(this.opts.dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const name of names) {
      const path = join(this.opts.dir, name);
      const size = (await stat(path)).size;
      const seq = Number(SEGMENT_NAME.exec(name)![1]);
      this.segments.push({ seq, path, size, written: size, lines: undefined, sealed: true, removed: false, pending: 0, writer: undefined });
      this.totalBytes += size;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
  }

  /** True when nothing is spooled (the caller may then queue in memory again). */
  get isEmpty(): boolean {
    return this.segments.length === 0;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Queue `batch` at the tail. Returns where it will be, or undefined when it
   * cannot be kept (larger than the whole spool, or the spool is closed).
   */
  append(batch: EncodedBatch): SpoolPosition | undefined {
    const len = frameBytes(batch);
    if (this.closed || len + SEGMENT_MAGIC.length > this.opts.maxBytes) {
      this.opts.onDrop(batch.lines, this.closed ? 'spool_error' : 'spool_full');
      return undefined;
    }
    let seg = this.segments[this.segments.length - 1];
    if (seg === undefined || seg.sealed || (seg.size > SEGMENT_MAGIC.length && seg.size + len > this.segmentBytes)) {
      if (seg !== undefined && !seg.sealed) this.seal(seg);
      seg = this.createSegment();
    }
    while (this.totalBytes + len > this.opts.maxBytes && this.segments.length > 1) this.dropOldest();

    const pos: SpoolPosition = { segment: seg.seq, offset: seg.size, length: len };
    seg.size += len;
    seg.lines = (seg.lines ?? 0) + batch.lines;
    this.totalBytes += len;
    const target = seg;
    this.enqueueFor(target, async () => {
      if (target.removed) return; // dropped for space before it was written; its lines were counted then
      if (target.writer === undefined) {
        this.opts.onDrop(batch.lines, 'spool_error'); // the segment could not be created, or an earlier write failed
        return;
      }
      try {
        const frame = encodeFrame(batch);
        await target.writer.write(frame, 0, frame.length, pos.offset);
        target.written = pos.offset + len;
      } catch (err) {
        this.opts.logger.error({ err, segment: target.path }, 'loki spool: write failed; sealing the segment');
        this.opts.onDrop(batch.lines, 'spool_error');
        target.sealed = true;
        await this.closeWriter(target, false);
      }
    });
    return pos;
  }

  /** The oldest record, or undefined when none is readable yet. Skips (and deletes) torn or corrupt tails. */
  peek(): Promise<SpooledBatch | undefined> {
    const p = this.chain.then(() => this.readHead());
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Mark the record at `pos` as done if it is the head; a stale position (its segment was dropped) is ignored. */
  ack(pos: SpoolPosition): void {
    const head = this.segments[0];
    if (head === undefined || head.seq !== pos.segment) return;
    const at = Math.max(this.readOffset, SEGMENT_MAGIC.length);
    if (at === pos.offset) this.readOffset = pos.offset + pos.length;
  }

  /** Wait for every queued write (and delete finished segments). */
  flush(): Promise<void> {
    return this.peek().then(() => undefined);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined && !last.sealed) this.seal(last);
    this.enqueue(async () => {
      await this.closeReader();
    });
    await this.chain;
  }

  /** Queue a file operation that adds data to `seg` (readers wait for it rather than call the segment finished). */
  private enqueueFor(seg: Segment, op: () => Promise<void>): void {
    seg.pending++;
    this.enqueue(async () => {
      try {
        await op();
      } finally {
        seg.pending--;
      }
    });
  }

  private enqueue(op: () => Promise<void>): void {
    this.chain = this.chain.then(op).catch((err: unknown) => {
      this.opts.logger.error({ err }, 'loki spool: unexpected error');
    });
  }

  private createSegment(): Segment {
    const seq = this.nextSeq++;
    const seg: Segment = {
      seq,
      path: join(this.opts.dir, `${String(seq).padStart(20, '0')}.seg`),
      size: SEGMENT_MAGIC.length,
      written: 0,
      lines: 0,
      sealed: false,
      removed: false,
      pending: 0,
      writer: undefined,
    };
    this.segments.push(seg);
    this.totalBytes += seg.size;
    this.enqueueFor(seg, async () => {
      if (seg.removed) return;
      try {
        seg.writer = await open(seg.path, 'wx');
        await seg.writer.write(SEGMENT_MAGIC, 0, SEGMENT_MAGIC.length, 0);
        seg.written = SEGMENT_MAGIC.length;
      } catch (err) {
        this.opts.logger.error({ err, segment: seg.path }, 'loki spool: cannot create segment');
        seg.sealed = true;
        await this.closeWriter(seg, false);
      }
    });
    return seg;
  }

  private seal(seg: Segment): void {
    seg.sealed = true;
    this.enqueue(() => this.closeWriter(seg, true));
  }

  private async closeWriter(seg: Segment, sync: boolean): Promise<void> {
    const w = seg.writer;
    if (w === undefined) return;
    seg.writer = undefined;
    try {
      if (sync) await w.datasync();
    } finally {
      await w.close();
    }
  }

  /** Remove the oldest segment for space, counting its lines as dropped. */
  private dropOldest(): void {
    const seg = this.removeHead();
    const known = seg.lines;
    this.opts.logger.warn({ segment: seg.path, bytes: seg.size }, 'loki spool: full, dropping the oldest segment');
    this.enqueue(async () => {
      let lines = known;
      if (lines === undefined) lines = await this.countLines(seg);
      this.opts.onDrop(lines, 'spool_full');
      await this.deleteFile(seg);
    });
  }

  /** Synchronously take segments[0] out of the spool; file cleanup is queued by the caller. */
  private removeHead(): Segment {
    const seg = this.segments.shift()!;
    seg.removed = true;
    seg.sealed = true;
    this.totalBytes -= seg.size;
    this.readOffset = 0;
    return seg;
  }

  private async countLines(seg: Segment): Promise<number> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(seg.path, 'r');
      return await new SegmentReader(fh).countLines(seg.written);
    } catch {
      return 0;
    } finally {
      await fh?.close();
    }
  }

  private async deleteFile(seg: Segment): Promise<void> {
    if (this.reader?.seq === seg.seq) await this.closeReader();
    await this.closeWriter(seg, false);
    await unlink(seg.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.opts.logger.warn({ err, segment: seg.path }, 'loki spool: cannot delete segment');
    });
  }

  private async closeReader(): Promise<void> {
    const r = this.reader;
    this.reader = undefined;
    await r?.fh.close();
  }

  /**
   * Runs on the chain, so every append queued before the call is on disk (or
   * failed). Appends queued after it are `pending`: their segment is not
   * finished yet, the caller is told "nothing yet" and asks again.
   */
  private async readHead(): Promise<SpooledBatch | undefined> {
    for (;;) {
      const seg = this.segments[0];
      if (seg === undefined) return undefined;
      if (this.readOffset >= seg.written || seg.written < SEGMENT_MAGIC.length) {
        // Everything on disk is read (or the file was never created).
        if (seg.pending > 0) return undefined;
        this.removeHead();
        await this.deleteFile(seg);
        continue;
      }
      try {
        // An append may drop the oldest segment while this awaits: re-check the head after each await.
        const r = await this.readerFor(seg);
        if (this.segments[0] !== seg) continue;
        if (this.readOffset === 0) {
          const ok = await r.checkMagic(seg.written);
          if (this.segments[0] !== seg) continue;
          if (!ok) {
            this.skipRest(seg, 'missing segment header');
            continue;
          }
          this.readOffset = SEGMENT_MAGIC.length;
        }
        const f = await r.frameAt(this.readOffset, seg.written);
        if (this.segments[0] !== seg) continue;
        if (f.kind === 'record') {
          return { ...f.batch, pos: { segment: seg.seq, offset: this.readOffset, length: f.next - this.readOffset } };
        }
        if (f.kind === 'end' && !f.torn) continue; // at the end: handled at the top
        // `written` only ever covers whole records of this run, so a torn record is a crash's leftover.
        this.skipRest(seg, f.kind === 'end' ? 'torn record at the end (interrupted write)' : f.why);
      } catch (err) {
        if (this.segments[0] !== seg) continue;
        this.opts.logger.error({ err, segment: seg.path }, 'loki spool: read failed');
        this.skipRest(seg, `read error: ${(err as Error).message}`);
      }
    }
  }

  /** Give up on the rest of a segment: report it and move the head to its end (deleted on the next turn). */
  private skipRest(seg: Segment, why: string): void {
    this.opts.logger.warn({ segment: seg.path, offset: this.readOffset, why }, 'loki spool: skipping the rest of a segment');
    this.opts.onCorrupt(seg.path, why);
    if (!seg.sealed) this.seal(seg); // no more appends behind a bad region
    this.readOffset = Number.MAX_SAFE_INTEGER;
  }

  private async readerFor(seg: Segment): Promise<SegmentReader> {
    if (this.reader?.seq !== seg.seq) {
      await this.closeReader();
      const fh = await open(seg.path, 'r');
      this.reader = { seq: seg.seq, fh, r: new SegmentReader(fh) };
    }
    return this.reader.r;
  }
}
