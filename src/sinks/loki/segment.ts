/**
 * On-disk layout of one spool segment: an 8-byte file magic, then records
 * framed as `u32 payloadLength | u32 crc32(payload) | payload`, where the
 * payload is `u8 format | u32 lines | body` (all little-endian). A record is
 * valid only if it is complete and its CRC matches, so a record torn by a
 * crash mid-write, or zeros left by the filesystem, read as "end of segment".
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from './crc32.js';
import type { BodyFormat, EncodedBatch } from './encode.js';

export const SEGMENT_MAGIC = Buffer.from('TSLOKI01', 'latin1');
export const FRAME_HEADER_BYTES = 8;
const PAYLOAD_PREFIX_BYTES = 5;
/** No sane batch is larger; a bigger length field is corruption, not a record to allocate. */
const MAX_PAYLOAD_BYTES = 512 * 1024 * 1024;
const READ_AHEAD_BYTES = 256 * 1024;

const FORMAT_CODE: Readonly<Record<BodyFormat, number>> = { protobuf: 1, json: 2 };
const CODE_FORMAT: readonly (BodyFormat | undefined)[] = [undefined, 'protobuf', 'json'];

export function frameBytes(batch: EncodedBatch): number {
  return FRAME_HEADER_BYTES + PAYLOAD_PREFIX_BYTES + batch.body.length;
}

/** The record for `batch`, ready to be written in one call. */
export function encodeFrame(batch: EncodedBatch): Buffer {
  const payloadLen = PAYLOAD_PREFIX_BYTES + batch.body.length;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadLen);
  out.writeUInt32LE(payloadLen, 0);
  out.writeUInt8(FORMAT_CODE[batch.format], 8);
  out.writeUInt32LE(batch.lines, 9);
  batch.body.copy(out, FRAME_HEADER_BYTES + PAYLOAD_PREFIX_BYTES);
  out.writeUInt32LE(crc32(out, FRAME_HEADER_BYTES), 4);
  return out;
}

export type FrameRead =
  | { kind: 'record'; batch: EncodedBatch; next: number }
  /** Nothing (or only part of a record) between offset and the limit. */
  | { kind: 'end'; torn: boolean }
  /** A complete-looking record that fails its checks: the rest of the segment is not trusted. */
  | { kind: 'corrupt'; why: string };

/**
 * Reads records of one segment file with read-ahead, so a segment of many
 * small records costs few syscalls. `limit` is how far the file is known to
 * be written (it grows while the segment is still appended to).
 */
export class SegmentReader {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;

  constructor(private readonly fh: FileHandle) {}

  async checkMagic(limit: number): Promise<boolean> {
    if (limit < SEGMENT_MAGIC.length) return false;
    const b = await this.bytesAt(0, SEGMENT_MAGIC.length, limit);
    return b.equals(SEGMENT_MAGIC);
  }

  async frameAt(offset: number, limit: number): Promise<FrameRead> {
    if (offset >= limit) return { kind: 'end', torn: false };
    if (offset + FRAME_HEADER_BYTES > limit) return { kind: 'end', torn: true };
    const head = await this.bytesAt(offset, FRAME_HEADER_BYTES, limit);
    const payloadLen = head.readUInt32LE(0);
    const crc = head.readUInt32LE(4);
    if (payloadLen < PAYLOAD_PREFIX_BYTES || payloadLen > MAX_PAYLOAD_BYTES) {
      // All-zero bytes here are a preallocated, never-written tail, not rot.
      return payloadLen === 0 && crc === 0 ? { kind: 'end', torn: true } : { kind: 'corrupt', why: `bad record length ${payloadLen}` };
    }
    const end = offset + FRAME_HEADER_BYTES + payloadLen;
    if (end > limit) return { kind: 'end', torn: true };
    const payload = await this.bytesAt(offset + FRAME_HEADER_BYTES, payloadLen, limit);
    if (crc32(payload) !== crc) return { kind: 'corrupt', why: 'checksum mismatch' };
    const format = CODE_FORMAT[payload[0]!];
    if (format === undefined) return { kind: 'corrupt', why: `unknown body format ${payload[0]}` };
    const batch: EncodedBatch = { format, lines: payload.readUInt32LE(1), body: payload.subarray(PAYLOAD_PREFIX_BYTES) };
    return { kind: 'record', batch, next: end };
  }

  /** Sum of `lines` over the valid records from the start (used to count a dropped segment). */
  async countLines(limit: number): Promise<number> {
    if (!(await this.checkMagic(limit))) return 0;
    let lines = 0;
    let offset = SEGMENT_MAGIC.length;
    for (;;) {
      const r = await this.frameAt(offset, limit);
      if (r.kind !== 'record') return lines;
      lines += r.batch.lines;
      offset = r.next;
    }
  }

  /** `len` bytes at `offset`; a fresh buffer per read-ahead so returned slices stay valid. */
  private async bytesAt(offset: number, len: number, limit: number): Promise<Buffer> {
    const rel = offset - this.chunkStart;
    if (rel >= 0 && rel + len <= this.chunk.length) return this.chunk.subarray(rel, rel + len);
    const want = Math.min(Math.max(len, READ_AHEAD_BYTES), limit - offset);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.chunk = buf.subarray(0, got);
    this.chunkStart = offset;
    if (got < len) throw new Error(`short read: wanted ${len} bytes at ${offset}, file has ${got}`);
    return this.chunk.subarray(0, len);
  }
}
