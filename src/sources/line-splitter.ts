/**
 * Newline framing for one TCP connection. Works on raw chunks: complete lines
 * inside a chunk are decoded straight from it (no copy); only a line split
 * across chunks is copied, into one growable buffer per connection, and never
 * beyond the line limit, so a peer that sends megabytes without a newline
 * costs at most `maxLineBytes` of memory. One buffer rather than a list of
 * chunk copies: a peer trickling one byte per segment would otherwise cost a
 * Buffer object (~130 bytes) per byte it sends.
 */
import { isUtf8 } from 'node:buffer';
import type { RejectReason } from './ingest-target.js';

const NL = 0x0a;
const CR = 0x0d;
/** First size of the pending-line buffer; it doubles up to the line limit. */
const MIN_CAPACITY = 1024;
/** A finished line leaves the buffer for reuse up to this size; a larger one is freed. */
const KEEP_CAPACITY = 16 * 1024;

export interface LineHandler {
  line(text: string): void;
  reject(reason: RejectReason): void;
}

export class LineSplitter {
  /** Bytes of an incomplete line, copied out of the chunks (the socket may reuse their memory). */
  private pending: Buffer | undefined;
  private pendingBytes = 0;
  /** Inside an over-long line: drop bytes until the next newline. */
  private discarding = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly out: LineHandler,
  ) {}

  /** Bytes currently buffered for an incomplete line. */
  get buffered(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    const len = chunk.length;
    while (start < len) {
      const nl = chunk.indexOf(NL, start);
      if (nl === -1) {
        this.keep(chunk, start, len);
        return;
      }
      if (this.discarding) {
        this.discarding = false;
      } else if (this.pendingBytes > 0) {
        this.keep(chunk, start, nl);
        if (!this.discarding) {
          const buf = this.pending!;
          const n = this.pendingBytes;
          this.pendingBytes = 0;
          this.emit(buf, 0, n);
          if (buf.length > KEEP_CAPACITY) this.pending = undefined;
        } else {
          this.discarding = false;
        }
      } else if (nl - start > this.maxLineBytes) {
        this.out.reject('too_long');
      } else {
        this.emit(chunk, start, nl);
      }
      start = nl + 1;
    }
  }

  /** The connection ended: whatever is buffered is a fragment Talos cut mid-write. */
  end(): void {
    const had = this.pendingBytes > 0;
    this.pending = undefined;
    this.pendingBytes = 0;
    this.discarding = false;
    if (had) this.out.reject('fragment');
  }

  private keep(chunk: Buffer, start: number, end: number): void {
    if (this.discarding || start === end) return;
    const need = this.pendingBytes + (end - start);
    if (need > this.maxLineBytes) {
      this.pending = undefined;
      this.pendingBytes = 0;
      this.discarding = true;
      this.out.reject('too_long');
      return;
    }
    let buf = this.pending;
    if (buf === undefined || buf.length < need) {
      // Doubling keeps the copies linear; allocUnsafeSlow: a pooled slice would pin a shared 8 KiB slab.
      const grown = Buffer.allocUnsafeSlow(Math.min(this.maxLineBytes, Math.max(need, MIN_CAPACITY, (buf?.length ?? 0) * 2)));
      if (buf !== undefined && this.pendingBytes > 0) buf.copy(grown, 0, 0, this.pendingBytes);
      this.pending = buf = grown;
    }
    chunk.copy(buf, this.pendingBytes, start, end);
    this.pendingBytes = need;
  }

  private emit(buf: Buffer, start: number, end: number): void {
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) {
      this.out.reject('empty');
      return;
    }
    const text = buf.toString('utf8', start, end);
    // U+FFFD in the decoded text is the cheap hint that bytes were invalid;
    // confirm on the bytes since a sender may legitimately send U+FFFD.
    if (text.indexOf('\uFFFD') !== -1 && !isUtf8(buf.subarray(start, end))) {
      this.out.reject('invalid_utf8');
      return;
    }
    this.out.line(text);
  }
}
