/**
 * Newline framing for one TCP connection. Works on raw chunks: complete lines
 * inside a chunk are decoded straight from it (no copy); only a line split
 * across chunks is buffered, and never beyond the line limit, so a peer that
 * sends megabytes without a newline costs at most `maxLineBytes` of memory.
 */
import { isUtf8 } from 'node:buffer';
import type { RejectReason } from './record-sink.js';

const NL = 0x0a;
const CR = 0x0d;

export interface LineHandler {
  line(text: string): void;
  reject(reason: RejectReason): void;
}

export class LineSplitter {
  private pending: Buffer[] = [];
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
          const whole = Buffer.concat(this.pending, this.pendingBytes);
          this.pending = [];
          this.pendingBytes = 0;
          this.emit(whole, 0, whole.length);
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
    if (this.pendingBytes > 0) {
      this.pending = [];
      this.pendingBytes = 0;
      this.out.reject('fragment');
    }
    this.discarding = false;
  }

  private keep(chunk: Buffer, start: number, end: number): void {
    if (this.discarding || start === end) return;
    if (this.pendingBytes + (end - start) > this.maxLineBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      this.discarding = true;
      this.out.reject('too_long');
      return;
    }
    // Copy: the chunk's memory may be reused by the socket after this callback.
    this.pending.push(Buffer.from(chunk.subarray(start, end)));
    this.pendingBytes += end - start;
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
