/**
 * The write-ahead log's record format: one frame per flush (every event the
 * sidecar read in one event-loop turn), framed as
 * `u32 payloadLength | u32 crc32(payload) | payload` with
 * `payload = u32 events | event*` and each event
 * `f64 timeMs | u32 timeNsRem | u8 source | str labelsJson | str line | u16 metadataPairs | (str name | str value)*`,
 * `str = u32 byteLength | utf8` (all little-endian). A frame is valid only if
 * complete and its CRC matches: a frame torn by kill -9 or a crash reads as
 * the end of its segment.
 */
import { crc32 } from './crc32.js';
import { LabelSetCache, type LabelSet, type LogEvent } from '../../log-event.js';

export const FRAME_HEADER_BYTES = 8;
/** No sane frame is larger; a bigger length field is corruption, not something to allocate. */
export const MAX_FRAME_PAYLOAD = 256 * 1024 * 1024;

/** Builds one frame from the events of a flush, in a buffer reused from flush to flush. */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private at = FRAME_HEADER_BYTES + 4;
  private count = 0;
  /** Encoded labels per interned LabelSet: labels are written as bytes copied, not re-serialised per line. */
  private readonly labelBytes = new WeakMap<LabelSet, Buffer>();

  get events(): number {
    return this.count;
  }

  /** Bytes of the frame so far. */
  get bytes(): number {
    return this.at;
  }

  add(ev: LogEvent): void {
    let lb = this.labelBytes.get(ev.stream);
    if (lb === undefined) {
      lb = Buffer.from(JSON.stringify(ev.stream.labels), 'utf8');
      this.labelBytes.set(ev.stream, lb);
    }
    // Upper bound: 3 bytes per UTF-16 unit.
    let need = 8 + 4 + 1 + 4 + lb.length + 4 + ev.line.length * 3 + 2;
    const md = ev.metadata;
    if (md !== undefined) for (const k in md) need += 8 + (k.length + md[k]!.length) * 3;
    this.ensure(need);
    const b = this.buf;
    b.writeDoubleLE(ev.timeMs, this.at);
    b.writeUInt32LE(ev.timeNsRem, this.at + 8);
    b.writeUInt8(ev.source === 'kernel' ? 0 : 1, this.at + 12);
    this.at += 13;
    b.writeUInt32LE(lb.length, this.at);
    lb.copy(b, this.at + 4);
    this.at += 4 + lb.length;
    this.str(ev.line);
    const countAt = this.at;
    this.at += 2;
    let pairs = 0;
    if (md !== undefined) {
      for (const k in md) {
        this.str(k);
        this.str(md[k]!);
        pairs++;
      }
    }
    b.writeUInt16LE(pairs, countAt);
    this.count++;
  }

  /** The finished frame (a view into the reused buffer: write it before the next add) and its event count. */
  take(): Buffer {
    const b = this.buf;
    const payloadLen = this.at - FRAME_HEADER_BYTES;
    b.writeUInt32LE(this.count, FRAME_HEADER_BYTES);
    b.writeUInt32LE(payloadLen, 0);
    b.writeUInt32LE(crc32(b, FRAME_HEADER_BYTES, this.at), 4);
    const out = b.subarray(0, this.at);
    this.at = FRAME_HEADER_BYTES + 4;
    this.count = 0;
    // Do not keep a buffer grown by one huge flush for ever.
    if (this.buf.length > 4 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024);
    return out;
  }

  private str(s: string): void {
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.at);
    this.at += 4 + n;
  }

  private ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

export type FrameCheck =
  | { kind: 'frame'; payload: Buffer; next: number }
  /** Nothing, or only part of a frame, before the limit. */
  | { kind: 'end'; torn: boolean }
  | { kind: 'corrupt'; why: string };

/** Check the frame at `off` of `buf` (which holds the file from `base`) without decoding events. */
export function checkFrame(buf: Buffer, off: number): FrameCheck {
  if (off >= buf.length) return { kind: 'end', torn: false };
  if (off + FRAME_HEADER_BYTES > buf.length) return { kind: 'end', torn: true };
  const len = buf.readUInt32LE(off);
  const crc = buf.readUInt32LE(off + 4);
  if (len < 4 || len > MAX_FRAME_PAYLOAD) {
    // All zeros: a preallocated, never-written tail, not rot.
    return len === 0 && crc === 0 ? { kind: 'end', torn: true } : { kind: 'corrupt', why: `bad frame length ${len}` };
  }
  const end = off + FRAME_HEADER_BYTES + len;
  if (end > buf.length) return { kind: 'end', torn: true };
  if (crc32(buf, off + FRAME_HEADER_BYTES, end) !== crc) return { kind: 'corrupt', why: 'checksum mismatch' };
  return { kind: 'frame', payload: buf.subarray(off + FRAME_HEADER_BYTES, end), next: end };
}

/** Number of events in a checked frame's payload. */
export function frameEvents(payload: Buffer): number {
  return payload.readUInt32LE(0);
}

/** Decodes frame payloads back into LogEvents; label sets are interned so a replayed stream is one object. */
export class FrameReader {
  private readonly labels = new Map<string, LabelSet>();
  private readonly cache = new LabelSetCache(10_000);

  decode(payload: Buffer, out: LogEvent[]): void {
    const n = payload.readUInt32LE(0);
    let p = 4;
    const str = (): string => {
      const len = payload.readUInt32LE(p);
      const s = payload.toString('utf8', p + 4, p + 4 + len);
      p += 4 + len;
      return s;
    };
    for (let i = 0; i < n; i++) {
      const timeMs = payload.readDoubleLE(p);
      const timeNsRem = payload.readUInt32LE(p + 8);
      const source = payload.readUInt8(p + 12) === 0 ? 'kernel' : 'service';
      p += 13;
      const lj = str();
      let stream = this.labels.get(lj);
      if (stream === undefined) {
        stream = this.cache.intern(JSON.parse(lj) as Record<string, string>);
        if (this.labels.size < 10_000) this.labels.set(lj, stream);
      }
      const line = str();
      const pairs = payload.readUInt16LE(p);
      p += 2;
      let metadata: Record<string, string> | undefined;
      if (pairs > 0) {
        metadata = {};
        for (let k = 0; k < pairs; k++) {
          const name = str();
          metadata[name] = str();
        }
      }
      out.push({ timeMs, timeNsRem, receivedMs: 0, line, stream, metadata, source });
    }
  }
}
