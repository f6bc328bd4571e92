/**
 * The records of one event-loop turn, as the ingest thread hands them to the
 * Loki thread: the raw Talos record text (the Loki thread decodes it for
 * storage; the ingest thread decodes only what rules need), who sent it and
 * when it arrived. Written into one reused buffer (no object per line), then
 * copied once into an ArrayBuffer of exactly its size that is transferred,
 * not copied again, to the Loki thread:
 *   `u32 records | record* | u16 peers | (u16 byteLength | utf8)*`
 * with `record = f64 receivedMs | u16 peer | u8 proto | u32 byteLength | utf8`
 * (little-endian); `peer` indexes the table at the end (written by `take`).
 */
import type { Proto } from '../../../sources/ingest-target.js';

const RECORD_HEAD = 15;
const FRAME_HEAD = 4;

/** Records in a frame are cut at this size: the Loki thread starts on them while more arrive. */
export const FRAME_SOFT_LIMIT = 256 * 1024;
/** The writer's buffer: room for the record that crosses the soft limit (a longer record grows it). */
const FRAME_BUFFER_BYTES = 2 * FRAME_SOFT_LIMIT;

export class RecordFrameWriter {
  private at = FRAME_HEAD;
  private count = 0;
  private readonly peerIndex = new Map<string, number>();
  private readonly peers: string[] = [];
  /** The last peer and its index: records of one socket read share it. */
  private lastPeer = '';
  private lastPeerIndex = -1;

  private buf = Buffer.allocUnsafeSlow(FRAME_BUFFER_BYTES);

  get records(): number {
    return this.count;
  }

  get bytes(): number {
    return this.at;
  }

  add(text: string, peer: string, proto: Proto, receivedMs: number): void {
    let pi = this.lastPeerIndex;
    if (peer !== this.lastPeer || pi < 0) {
      pi = this.peerIndex.get(peer) ?? -1;
      if (pi < 0) {
        pi = this.peers.length;
        this.peers.push(peer);
        this.peerIndex.set(peer, pi);
      }
      this.lastPeer = peer;
      this.lastPeerIndex = pi;
    }
    this.ensure(RECORD_HEAD + text.length * 3);
    const b = this.buf;
    const at = this.at;
    b.writeDoubleLE(receivedMs, at);
    b.writeUInt16LE(pi, at + 8);
    b[at + 10] = proto === 'tcp' ? 0 : 1;
    const n = b.write(text, at + RECORD_HEAD, 'utf8');
    b.writeUInt32LE(n, at + 11);
    this.at = at + RECORD_HEAD + n;
    this.count++;
  }

  /** Whether the peer table is nearly full (u16 indexes): take() before more peers. */
  get full(): boolean {
    return this.peers.length >= 0xfff0;
  }

  /** The finished frame, in an ArrayBuffer of its own and of its size (to transfer); the writer starts a new one. */
  take(): { buf: ArrayBuffer; len: number; records: number } {
    let tableBytes = 2;
    for (const p of this.peers) tableBytes += 2 + Buffer.byteLength(p, 'utf8');
    this.ensure(tableBytes);
    const b = this.buf;
    b.writeUInt32LE(this.count, 0);
    let at = this.at;
    b.writeUInt16LE(this.peers.length, at);
    at += 2;
    for (const p of this.peers) {
      const n = b.write(p, at + 2, 'utf8');
      b.writeUInt16LE(n, at);
      at += 2 + n;
    }
    // Its own ArrayBuffer (not from the pool small Buffers share), so it can be transferred.
    const copy = Buffer.allocUnsafeSlow(at);
    b.copy(copy, 0, 0, at);
    const out = { buf: copy.buffer as ArrayBuffer, len: at, records: this.count };
    this.at = FRAME_HEAD;
    this.count = 0;
    this.peerIndex.clear();
    this.peers.length = 0;
    this.lastPeerIndex = -1;
    return out;
  }

  private ensure(extra: number): void {
    if (this.at + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + extra));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

/** Calls `each` for every record of a frame, in order. Throws on a frame that does not parse (a bug, not input). */
export function readRecordFrame(
  ab: ArrayBuffer,
  len: number,
  each: (text: string, peer: string, proto: Proto, receivedMs: number) => void,
): number {
  const b = Buffer.from(ab, 0, len);
  const count = b.readUInt32LE(0);
  // The peer table is after the records: find it first.
  let at = FRAME_HEAD;
  for (let i = 0; i < count; i++) at += RECORD_HEAD + b.readUInt32LE(at + 11);
  const peers: string[] = new Array(b.readUInt16LE(at));
  at += 2;
  for (let i = 0; i < peers.length; i++) {
    const n = b.readUInt16LE(at);
    peers[i] = b.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
  }
  if (at !== len) throw new Error(`record frame: ${len} bytes, table ends at ${at}`);
  at = FRAME_HEAD;
  for (let i = 0; i < count; i++) {
    const receivedMs = b.readDoubleLE(at);
    const peer = peers[b.readUInt16LE(at + 8)]!;
    const proto: Proto = b[at + 10] === 0 ? 'tcp' : 'udp';
    const n = b.readUInt32LE(at + 11);
    const start = at + RECORD_HEAD;
    each(b.toString('utf8', start, start + n), peer, proto, receivedMs);
    at = start + n;
  }
  return count;
}
