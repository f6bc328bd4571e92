/**
 * (One file past ~400 lines: the log's layout, positions, bound and acknowledgement belong together.)
 * The Loki forwarding write-ahead log: every event the sidecar reads is
 * appended here (write(2) done) before it is batched, pushes are built from
 * it, and the position Loki acknowledged is persisted, so neither kill -9 nor
 * a Loki outage, hang or slowdown loses a line read, and a restart resends
 * only what Loki had not acknowledged: at most the batch in flight.
 *
 * Layout: `<dir>/<20-digit seq>.wal` segments (an 8-byte magic, then frames,
 * see wal-record.ts) and `<dir>/ack` (the acknowledged position, replaced by
 * rename so a kill mid-write leaves the previous one). Segments wholly before
 * the acknowledged position are deleted. Bounded by `maxBytes`: when full the
 * oldest segment is dropped and its unacknowledged lines counted.
 *
 * Appends are synchronous writes (the caller batches a whole event-loop
 * turn into one frame, so that is one syscall per turn, not per line).
 * Nothing is fsynced per frame: kill -9 loses nothing the kernel accepted;
 * rotation and close sync the data for power loss.
 */
import { closeSync, constants, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeSync, close } from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { crc32 } from './crc32.js';
import type { LogEvent } from '../../log-event.js';
import { LogLimiter } from './log-limiter.js';
import { checkFrame, FRAME_HEADER_BYTES, FrameReader, frameEvents, MAX_FRAME_PAYLOAD } from './wal-record.js';

export const WAL_MAGIC = Buffer.from('TSLWAL01', 'latin1');
const ACK_MAGIC = Buffer.from('TSLACK01', 'latin1');
const SEGMENT_NAME = /^(\d{20})\.wal$/;
const READ_CHUNK = 1024 * 1024;

/** A place in the log: byte `off` of segment `seg`. */
export interface WalPos {
  readonly seg: number;
  readonly off: number;
}

export function posBefore(a: WalPos, b: WalPos): boolean {
  return a.seg < b.seg || (a.seg === b.seg && a.off < b.off);
}

export type WalDropReason = 'spool_full' | 'spool_error';

export interface WalOptions {
  dir: string;
  maxBytes: number;
  /** Rotation size; default maxBytes/8 clamped to [4 KiB, 64 MiB], so dropping the oldest frees a fair share. */
  segmentBytes?: number;
  logger: Logger;
  /** Lines lost to the size bound or a failed write (may be reported a little later, once counted). */
  onDrop(lines: number, reason: WalDropReason): void;
  /** A torn or corrupt region was skipped while reading (the rest of that segment). */
  onCorrupt(why: string): void;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  size: number;
  fd: number | undefined;
}

export interface WalRead {
  events: LogEvent[];
  /** Where the next read starts; equal to `from` (normalised) when nothing new was there. */
  end: WalPos;
}

export class Wal {
  private readonly segments: Segment[] = [];
  private total = 0;
  private ackPos: WalPos = { seg: 0, off: 0 };
  private readonly segmentBytes: number;
  private readonly reader = new FrameReader();
  private readonly errorLog = new LogLimiter(10_000);
  private ackFd: number | undefined;
  private readonly ackBuf = Buffer.concat([ACK_MAGIC, Buffer.alloc(20)]);
  private closed = false;

  constructor(private readonly opts: WalOptions) {
    this.segmentBytes = opts.segmentBytes ?? Math.min(64 * 1024 * 1024, Math.max(4096, Math.floor(opts.maxBytes / 8)));
  }

  /** Take over what a previous run left (replayed from its acknowledged position), and start a fresh segment. */
  open(): void {
    mkdirSync(this.opts.dir, { recursive: true });
    const names = readdirSync(this.opts.dir).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const name of names) {
      const path = join(this.opts.dir, name);
      const fd = openSync(path, 'r');
      const size = fstatSync(fd).size;
      closeSync(fd);
      this.segments.push({ seq: Number(SEGMENT_NAME.exec(name)![1]), path, size, fd: undefined });
      this.total += size;
    }
    this.ackPos = this.readAck() ?? { seg: this.segments[0]?.seq ?? 0, off: 0 };
    this.dropAcked();
    this.createSegment((this.segments[this.segments.length - 1]?.seq ?? 0) + 1);
  }

  get bytes(): number {
    return this.total;
  }

  /** Frames should stay under this: a segment holds a few, and dropping the oldest segment frees a fair share. */
  get frameBytesHint(): number {
    return Math.max(1024, Math.floor(this.segmentBytes / 4));
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes after the acknowledged position: the backlog Loki has not confirmed (frame bytes, uncompressed). */
  get pendingBytes(): number {
    let n = 0;
    for (const s of this.segments) {
      if (s.seq < this.ackPos.seg) continue;
      const from = s.seq === this.ackPos.seg ? Math.max(this.ackPos.off, WAL_MAGIC.length) : WAL_MAGIC.length;
      n += Math.max(0, s.size - from);
    }
    return n;
  }

  get acked(): WalPos {
    return this.ackPos;
  }

  /** Where the next append goes. */
  get end(): WalPos {
    const s = this.last();
    return { seg: s.seq, off: s.size };
  }

  /** True when everything appended is acknowledged. */
  get drained(): boolean {
    return !posBefore(this.normalise(this.ackPos), this.end);
  }

  /**
   * Write one frame (synchronously: the data is the kernel's when this
   * returns). Returns the position after it, or undefined when it could not
   * be written (the caller decides what that costs; nothing is counted here).
   * Never throws.
   */
  append(frame: Buffer): WalPos | undefined {
    if (this.closed || frame.length + WAL_MAGIC.length > this.opts.maxBytes) return undefined;
    let seg: Segment | undefined;
    try {
      seg = this.last();
      if (seg.fd === undefined || (seg.size > WAL_MAGIC.length && seg.size + frame.length > this.segmentBytes)) seg = this.rotate();
      while (this.total + frame.length > this.opts.maxBytes && this.segments.length > 1) this.dropOldest();
      let done = 0;
      while (done < frame.length) done += writeSync(seg.fd!, frame, done, frame.length - done, seg.size + done);
    } catch (err) {
      const suppressed = this.errorLog.take('write');
      if (suppressed !== undefined) this.opts.logger.error({ err, segment: seg?.path, suppressed }, 'loki wal: write failed; the next write starts a new segment');
      // Whatever part of the frame landed is a torn tail the reader skips; never append after it.
      if (seg?.fd !== undefined) {
        try {
          closeSync(seg.fd);
        } catch {
          // already unusable
        }
        seg.fd = undefined;
      }
      return undefined;
    }
    seg.size += frame.length;
    this.total += frame.length;
    return { seg: seg.seq, off: seg.size };
  }

  /**
   * Events from `from` on, whole frames, about `maxBytes` of them at most.
   * Torn or corrupt frames (a crash's leftovers) end their segment: counted,
   * and the read carries on in the next one.
   */
  async read(from: WalPos, maxBytes: number): Promise<WalRead> {
    const events: LogEvent[] = [];
    let pos = this.normalise(from);
    let got = 0;
    for (;;) {
      const seg = this.segments.find((s) => s.seq === pos.seg);
      if (seg === undefined) return { events, end: pos };
      const limit = seg.size;
      if (pos.off >= limit) return { events, end: pos }; // the write segment, all read
      let buf: Buffer;
      try {
        buf = await readRange(seg.path, pos.off, Math.min(limit - pos.off, Math.max(READ_CHUNK, maxBytes - got)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          pos = this.normalise(pos); // dropped for space meanwhile
          if (pos.seg === seg.seq) return { events, end: pos };
          continue;
        }
        // Unreadable: give up on the rest of this segment rather than stall the sender on it.
        this.opts.logger.error({ err, segment: seg.path }, 'loki wal: read failed; skipping the rest of the segment');
        this.opts.onCorrupt(`read error: ${(err as Error).message}`);
        if (seg === this.last()) return { events, end: pos };
        pos = this.normalise({ seg: seg.seq, off: limit });
        continue;
      }
      let at = 0;
      for (;;) {
        const f = checkFrame(buf, at);
        if (f.kind === 'frame') {
          const before = events.length;
          try {
            this.reader.decode(f.payload, events);
          } catch (err) {
            // A frame with a valid checksum we cannot decode: skip it alone.
            events.length = before;
            this.opts.onCorrupt(`undecodable frame: ${(err as Error).message}`);
          }
          got += f.next - at;
          at = f.next;
          if (got >= maxBytes) return { events, end: { seg: seg.seq, off: pos.off + at } };
          continue;
        }
        if (f.kind === 'end' && !f.torn) break;
        if (f.kind === 'end' && buf.length < limit - pos.off) {
          // A frame larger than the chunk: read exactly it.
          const len = buf.length - at >= 4 ? buf.readUInt32LE(at) : 0;
          if (len > 0 && len <= MAX_FRAME_PAYLOAD && pos.off + at + FRAME_HEADER_BYTES + len <= limit) {
            buf = await readRange(seg.path, pos.off + at, FRAME_HEADER_BYTES + len);
            pos = { seg: seg.seq, off: pos.off + at };
            at = 0;
            continue;
          }
        }
        if (seg === this.last()) {
          // Our own segment is written in whole frames; a bad one means the file changed under us.
          this.opts.onCorrupt(`write segment ${seg.path}: ${f.kind === 'corrupt' ? f.why : 'torn frame'}`);
          if (seg.fd !== undefined) closeSync(seg.fd);
          seg.fd = undefined; // the next append starts a new segment
        } else {
          const why = f.kind === 'corrupt' ? f.why : 'torn frame at the end (interrupted write)';
          this.opts.logger.warn({ segment: seg.path, offset: pos.off + at, why }, 'loki wal: skipping the rest of a segment');
          this.opts.onCorrupt(why);
        }
        at = limit - pos.off; // skip to the segment's end
        break;
      }
      pos = this.normalise({ seg: seg.seq, off: pos.off + at });
      if (events.length > 0 && pos.seg !== seg.seq) return { events, end: pos };
      if (pos.seg === seg.seq && pos.off >= seg.size) return { events, end: pos };
    }
  }

  /** Loki acknowledged everything before `pos`: persist it and delete finished segments. */
  ack(pos: WalPos): void {
    if (this.closed || !posBefore(this.ackPos, pos)) return;
    this.ackPos = pos;
    this.writeAck();
    this.dropAcked();
  }

  close(): void {
    if (this.closed) return;
    this.writeAck();
    this.closed = true;
    if (this.ackFd !== undefined) {
      try {
        fdatasyncSync(this.ackFd);
      } catch {
        // best effort
      } finally {
        closeSync(this.ackFd);
        this.ackFd = undefined;
      }
    }
    for (const s of this.segments) {
      if (s.fd !== undefined) {
        try {
          fdatasyncSync(s.fd);
        } catch {
          // best effort: kill -9 safety does not depend on it
        } finally {
          closeSync(s.fd);
          s.fd = undefined;
        }
      }
    }
  }

  /** The first real position at or after `p`: past a segment's end means the next segment's start. */
  private normalise(p: WalPos): WalPos {
    for (let i = 0; i < this.segments.length; i++) {
      const s = this.segments[i]!;
      if (s.seq < p.seg) continue;
      if (s.seq > p.seg) return { seg: s.seq, off: WAL_MAGIC.length };
      const off = Math.max(p.off, WAL_MAGIC.length);
      if (off < s.size || i === this.segments.length - 1) return { seg: s.seq, off };
    }
    return this.end;
  }

  private last(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Throws when the file cannot be created (append() turns that into "not written"). */
  private createSegment(seq: number): Segment {
    const path = join(this.opts.dir, `${String(seq).padStart(20, '0')}.wal`);
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, WAL_MAGIC, 0, WAL_MAGIC.length, 0);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    const seg: Segment = { seq, path, size: WAL_MAGIC.length, fd };
    this.segments.push(seg);
    this.total += seg.size;
    return seg;
  }

  /** Seal the write segment (synced off the event loop) and start the next. */
  private rotate(): Segment {
    const old = this.last();
    const fd = old.fd;
    old.fd = undefined;
    if (fd !== undefined) fdatasync(fd, () => close(fd, () => undefined));
    return this.createSegment(old.seq + 1);
  }

  /** Drop segments wholly before the acknowledged position. */
  private dropAcked(): void {
    while (this.segments.length > 1) {
      const s = this.segments[0]!;
      const done = s.seq < this.ackPos.seg || (s.seq === this.ackPos.seg && this.ackPos.off >= s.size);
      if (!done) return;
      this.remove(s);
    }
  }

  private remove(s: Segment): void {
    this.segments.shift();
    this.total -= s.size;
    if (s.fd !== undefined) closeSync(s.fd);
    s.fd = undefined;
    try {
      unlinkSync(s.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.logger.warn({ err, segment: s.path }, 'loki wal: cannot delete segment');
    }
  }

  /** Full: drop the oldest segment, counting the lines in it Loki had not acknowledged. */
  private dropOldest(): void {
    const s = this.segments[0]!;
    const from = s.seq === this.ackPos.seg ? Math.max(this.ackPos.off, WAL_MAGIC.length) : WAL_MAGIC.length;
    this.opts.logger.warn({ segment: s.path, bytes: s.size }, 'loki wal: full, dropping the oldest segment');
    let fd: number | undefined;
    try {
      fd = openSync(s.path, 'r'); // keeps the data readable for counting after the unlink below
    } catch {
      fd = undefined;
    }
    this.remove(s);
    if (posBefore(this.ackPos, { seg: this.segments[0]!.seq, off: 0 })) this.ackPos = { seg: this.segments[0]!.seq, off: WAL_MAGIC.length };
    if (fd !== undefined) {
      const size = s.size;
      const owned = fd;
      void countLinesFd(owned, from, size)
        .then((n) => this.opts.onDrop(n, 'spool_full'))
        .finally(() => close(owned, () => undefined));
    }
  }

  private readAck(): WalPos | undefined {
    let b: Buffer;
    try {
      b = readFileSync(join(this.opts.dir, 'ack'));
    } catch {
      return undefined;
    }
    // Only the first 28 bytes count (an older, longer file is overwritten in place).
    if (b.length < 28 || !b.subarray(0, 8).equals(ACK_MAGIC) || crc32(b, 0, 24) !== b.readUInt32LE(24)) {
      this.opts.onCorrupt('unreadable ack file (replaying from the oldest segment)');
      return undefined;
    }
    return { seg: b.readDoubleLE(8), off: b.readDoubleLE(16) };
  }

  /**
   * One 28-byte write at offset 0 of a file kept open: a write this small
   * within one page is never half done by kill -9, and the CRC catches the
   * power-loss case (then the log replays from its oldest segment: more
   * duplicates, nothing lost). No rename, so it costs one syscall per push.
   */
  private writeAck(): void {
    const b = this.ackBuf;
    b.writeDoubleLE(this.ackPos.seg, 8);
    b.writeDoubleLE(this.ackPos.off, 16);
    b.writeUInt32LE(crc32(b, 0, 24), 24);
    try {
      this.ackFd ??= openSync(join(this.opts.dir, 'ack'), constants.O_RDWR | constants.O_CREAT, 0o644); // not O_APPEND: Linux would ignore the offset
      writeSync(this.ackFd, b, 0, b.length, 0);
    } catch (err) {
      const suppressed = this.errorLog.take('ack');
      if (suppressed !== undefined) this.opts.logger.error({ err, suppressed }, 'loki wal: cannot persist the acknowledged position (a restart would resend more)');
    }
  }
}

async function readRange(path: string, off: number, len: number): Promise<Buffer> {
  const fh = await openAsync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, off + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** Events in the valid frames of a segment file from `from` to `size` (for counting a dropped segment). */
async function countLinesFd(fd: number, from: number, size: number): Promise<number> {
  let lines = 0;
  let off = from;
  let frames = 0;
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  while (off + head.length <= size) {
    const n = readSync(fd, head, 0, head.length, off);
    if (n < head.length) break;
    const len = head.readUInt32LE(0);
    if (len < 4 || len > MAX_FRAME_PAYLOAD || off + FRAME_HEADER_BYTES + len > size) break;
    lines += frameEvents(head.subarray(FRAME_HEADER_BYTES));
    off += FRAME_HEADER_BYTES + len;
    if (++frames % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  return lines;
}
