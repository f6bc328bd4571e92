/**
 * The write-ahead log's record format: one frame per flush (every event the
 * sidecar read in one event-loop turn), framed as
 * `u32 payloadLength | u32 crc32(payload) | payload` with
 * `payload = u32 events | u32 tableOffset | event* | table`, each event
 * `f64 timeMs | u32 timeNsRem | u8 source | u16 stream | str line | u8 pairs | (u16 name | str value)*`
 * where `stream` and `name` index the frame's table
 * `u16 streams | str labelsJson* | u16 names | str name*`, and
 * `str = u32 byteLength | utf8` (all little-endian). Labels and field names
 * are written once per frame, not per line. A frame is valid only if complete
 * and its CRC matches: a frame torn by kill -9 or a crash reads as the end of
 * its segment. Frames are self-contained, so reading may start at any one.
 */
import { crc32 } from './crc32.js';
import { LabelSetCache, type LabelSet, type LogEvent } from '../../log-event.js';

export const FRAME_HEADER_BYTES = 8;
/** No sane frame is larger; a bigger length field is corruption, not something to allocate. */
export const MAX_FRAME_PAYLOAD = 256 * 1024 * 1024;

/** Payload bytes before the first event: the event count and the table offset. */
const PAYLOAD_HEAD = 8;
/** Per-frame table bound (u16 indexes); a frame is cut before it is reached. */
const MAX_TABLE = 0xffff;

/** Builds one frame from the events of a flush, in a buffer reused from flush to flush. */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private at = FRAME_HEADER_BYTES + PAYLOAD_HEAD;
  private count = 0;
  /** Encoded labels per interned LabelSet, kept across frames (labels are copied as bytes, never re-serialised). */
  private readonly labelBytes = new WeakMap<LabelSet, Buffer>();
  private readonly streamIndex = new Map<LabelSet, number>();
  private readonly streams: Buffer[] = [];
  private readonly nameIndex = new Map<string, number>();
  private readonly names: string[] = [];

  get events(): number {
    return this.count;
  }

  /** Bytes of the frame so far (the table not counted). */
  get bytes(): number {
    return this.at;
  }

  /** The per-frame table is nearly full: take() before adding more. */
  get full(): boolean {
    return this.streams.length >= MAX_TABLE - 1 || this.names.length >= MAX_TABLE - 256;
  }

  add(ev: LogEvent): void {
    let si = this.streamIndex.get(ev.stream);
    if (si === undefined) {
      let lb = this.labelBytes.get(ev.stream);
      if (lb === undefined) {
        lb = Buffer.from(JSON.stringify(ev.stream.labels), 'utf8');
        this.labelBytes.set(ev.stream, lb);
      }
      si = this.streams.length;
      this.streams.push(lb);
      this.streamIndex.set(ev.stream, si);
    }
    this.ensure(16 + 4 + ev.line.length * 3);
    const b = this.buf;
    b.writeDoubleLE(ev.timeMs, this.at);
    b.writeUInt32LE(ev.timeNsRem, this.at + 8);
    b[this.at + 12] = ev.source === 'kernel' ? 0 : 1;
    b.writeUInt16LE(si, this.at + 13);
    this.at += 15;
    this.str(ev.line);
    const countAt = this.at++;
    let pairs = 0;
    const md = ev.metadata;
    if (md !== undefined) {
      for (const k in md) {
        if (pairs === 255) break; // u8 count; Loki's own default limit is 128 entries
        let ni = this.nameIndex.get(k);
        if (ni === undefined) {
          ni = this.names.length;
          this.names.push(k);
          this.nameIndex.set(k, ni);
        }
        const v = md[k]!;
        this.ensure(6 + v.length * 3);
        this.buf.writeUInt16LE(ni, this.at);
        this.at += 2;
        this.str(v);
        pairs++;
      }
    }
    this.buf[countAt] = pairs;
    this.count++;
  }

  /** The finished frame (a view into the reused buffer: write it before the next add). */
  take(): Buffer {
    const tableAt = this.at - FRAME_HEADER_BYTES;
    let need = 4;
    for (const s of this.streams) need += 4 + s.length;
    for (const n of this.names) need += 4 + n.length * 3;
    this.ensure(need);
    const b = this.buf;
    b.writeUInt16LE(this.streams.length, this.at);
    this.at += 2;
    for (const s of this.streams) {
      b.writeUInt32LE(s.length, this.at);
      s.copy(b, this.at + 4);
      this.at += 4 + s.length;
    }
    b.writeUInt16LE(this.names.length, this.at);
    this.at += 2;
    for (const n of this.names) this.str(n);
    b.writeUInt32LE(this.count, FRAME_HEADER_BYTES);
    b.writeUInt32LE(tableAt, FRAME_HEADER_BYTES + 4);
    b.writeUInt32LE(this.at - FRAME_HEADER_BYTES, 0);
    b.writeUInt32LE(crc32(b, FRAME_HEADER_BYTES, this.at), 4);
    const out = b.subarray(0, this.at);
    this.at = FRAME_HEADER_BYTES + PAYLOAD_HEAD;
    this.count = 0;
    this.streamIndex.clear();
    this.streams.length = 0;
    this.nameIndex.clear();
    this.names.length = 0;
    // Do not keep a buffer grown by one huge flush for ever.
    if (this.buf.length > 4 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024);
    return out;
  }

  private str(s: string): void {
    this.ensure(4 + s.length * 3);
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
    let p = payload.readUInt32LE(4);
    const str = (): string => {
      const len = payload.readUInt32LE(p);
      const s = payload.toString('utf8', p + 4, p + 4 + len);
      p += 4 + len;
      return s;
    };
    // The table first.
    const streams: LabelSet[] = new Array(payload.readUInt16LE(p));
    p += 2;
    for (let i = 0; i < streams.length; i++) {
      const lj = str();
      let set = this.labels.get(lj);
      if (set === undefined) {
        set = this.cache.intern(JSON.parse(lj) as Record<string, string>);
        if (this.labels.size < 10_000) this.labels.set(lj, set);
      }
      streams[i] = set;
    }
    const names: string[] = new Array(payload.readUInt16LE(p));
    p += 2;
    for (let i = 0; i < names.length; i++) names[i] = str();
    p = PAYLOAD_HEAD;
    for (let i = 0; i < n; i++) {
      const timeMs = payload.readDoubleLE(p);
      const timeNsRem = payload.readUInt32LE(p + 8);
      const source = payload[p + 12] === 0 ? 'kernel' : 'service';
      const stream = streams[payload.readUInt16LE(p + 13)];
      p += 15;
      if (stream === undefined) throw new Error('wal frame: stream index out of range');
      const line = str();
      const pairs = payload[p++]!;
      let metadata: Record<string, string> | undefined;
      if (pairs > 0) {
        metadata = {};
        for (let k = 0; k < pairs; k++) {
          const name = names[payload.readUInt16LE(p)];
          p += 2;
          if (name === undefined) throw new Error('wal frame: field index out of range');
          metadata[name] = str();
        }
      }
      out.push({ timeMs, timeNsRem, receivedMs: 0, line, stream, metadata, source });
    }
  }
}
