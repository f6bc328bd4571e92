/**
 * Loki's `logproto.PushRequest` (schema in logproto.ts, spec in
 * shared/spec/loki-ruler-and-alertmanager.md) written straight into one
 * reused buffer in a single pass: no per-entry message objects, no
 * protobufjs writer ops list, lines UTF-8-encoded once, in place.
 *
 * Length-delimited fields are written with a guessed length-prefix width and
 * the content moved (copyWithin, a memmove) when the real length needs a
 * different width — rare, and only for that message's bytes. The output is
 * byte-for-byte what protobufjs's encoder writes for encodePushRequest's
 * message (same field order; empty timestamps written, empty strings and
 * zero scalars not), so Loki decodes exactly the same request.
 *
 * Used by encode.ts for every protobuf batch. `encode` returns a view of the
 * internal buffer, valid until the next call (compress it before then).
 */
import type { LogEvent } from '../../log-event.js';
import type { OpenBatch } from './batch.js';
import { lokiMetadataName } from './metadata-name.js';
import { MetadataPolicy } from './metadata-policy.js';

function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 2 ** 35) return 5;
  let n = 5;
  for (let x = Math.floor(v / 2 ** 35); x > 0; x = Math.floor(x / 128)) n++;
  return n;
}

export class PushWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /**
   * The PushRequest for `batch` (structured metadata when `withMetadata`, or
   * what the policy keeps, as encodePushRequest): a view valid until the next call.
   */
  encode(batch: OpenBatch, withMetadata: boolean | MetadataPolicy): Buffer {
    this.pos = 0;
    for (const s of batch.streams.values()) {
      // streams = 1: StreamAdapter { labels = 1; entries = 2 }
      const label = this.begin(0x0a, 3, s.stream.key.length * 3 + 8);
      this.string(0x0a, s.stream.key);
      const events = s.events;
      for (let i = 0; i < events.length; i++) this.entry(events[i]!, withMetadata);
      this.end(label);
    }
    return this.buf.subarray(0, this.pos);
  }

  private entry(ev: LogEvent, withMetadata: boolean | MetadataPolicy): void {
    const line = ev.line;
    // A guess of the entry's length-prefix width from the line's UTF-16 length.
    const e = this.begin(0x12, line.length < 40 ? 1 : line.length < 5000 ? 2 : 3, line.length * 3 + 40);
    // timestamp = 1 (google.protobuf.Timestamp { seconds = 1; nanos = 2 }), always written.
    const seconds = Math.floor(ev.timeMs / 1000);
    const nanos = (ev.timeMs - seconds * 1000) * 1_000_000 + ev.timeNsRem;
    const tsLen = (seconds !== 0 ? 1 + (seconds < 0 ? 10 : varintSize(seconds)) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
    this.byte(0x0a);
    this.varint(tsLen);
    if (seconds !== 0) {
      this.byte(0x08);
      if (seconds < 0) this.negative(seconds);
      else this.varint(seconds);
    }
    if (nanos !== 0) {
      this.byte(0x10);
      this.varint(nanos);
    }
    // line = 2
    this.string(0x12, line);
    // structuredMetadata = 3: LabelPairAdapter { name = 1; value = 2 }
    if (withMetadata instanceof MetadataPolicy && !withMetadata.unlimited) {
      const pairs = withMetadata.pairs(ev.metadata);
      if (pairs !== undefined) {
        for (const { name, value } of pairs) {
          const p = this.begin(0x1a, 1, (name.length + value.length) * 3 + 16);
          this.string(0x0a, name);
          this.string(0x12, value);
          this.end(p);
        }
      }
      this.end(e);
      return;
    }
    // Every pair as is: metadata on (or a policy with no limit learnt), without building pairs.
    const md = withMetadata !== false ? ev.metadata : undefined;
    if (md !== undefined) {
      for (const name in md) {
        const value = md[name]!;
        const n = lokiMetadataName(name);
        const p = this.begin(0x1a, 1, (n.length + value.length) * 3 + 16);
        this.string(0x0a, n);
        this.string(0x12, value);
        this.end(p);
      }
    }
    this.end(e);
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  private varint(v: number): void {
    const buf = this.buf;
    while (v >= 0x80) {
      buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[this.pos++] = v;
  }

  /** A negative int64 as protobuf writes it: 10-byte two's complement varint. */
  private negative(v: number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }

  private string(tag: number, s: string): void {
    // proto3: an empty string is the default and is not written (protobufjs and Go alike).
    if (s === '') return;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the prefix width is then fixed up.
    this.ensure(s.length * 3 + 8);
    this.byte(tag);
    const guess = s.length < 43 ? 1 : s.length < 5462 ? 2 : varintSize(s.length * 3);
    const at = this.pos;
    let n = -1;
    if (s.length < 64) {
      // Short strings (metadata, most labels) in JS: a native call costs more than the copy.
      const buf = this.buf;
      const o = at + guess;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[o + i] = c;
      }
      if (i === s.length) n = i;
    }
    if (n < 0) n = this.buf.write(s, at + guess, 'utf8');
    this.pos = at + guess + n;
    this.placeLength(at, guess, n);
  }

  /** Tag, then `width` bytes reserved for the length; returns where the length goes. */
  private begin(tag: number, width: number, room: number): number {
    this.ensure(room + 16);
    this.byte(tag);
    const at = this.pos;
    this.pos += width;
    return at * 8 + width;
  }

  private end(mark: number): void {
    const at = Math.floor(mark / 8);
    const width = mark % 8;
    this.placeLength(at, width, this.pos - at - width);
  }

  /**
   * Writes `len` as a varint at `at`, moving the `len` content bytes that
   * follow `width` reserved bytes if the width differs. `pos` is at the
   * content's end.
   */
  private placeLength(at: number, width: number, len: number): void {
    const need = varintSize(len);
    const contentStart = at + width;
    if (need !== width) {
      this.ensure(need - width + 8);
      this.buf.copyWithin(at + need, contentStart, contentStart + len);
    }
    this.pos = at;
    this.varint(len);
    this.pos = at + need + len;
  }
}
