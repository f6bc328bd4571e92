/**
 * Turns a sealed batch into the exact HTTP body Loki's push endpoint takes:
 * protobuf `logproto.PushRequest` compressed as a raw snappy block, or JSON
 * compressed with gzip. The body is what the queue and the spool keep, so a
 * batch is encoded once however often it is retried or replayed.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { eventTimeNsString } from '../../log-event.js';
import type { OpenBatch } from './batch.js';
import { lokiMetadata } from './metadata-name.js';
import { MetadataPolicy } from './metadata-policy.js';
import { PushWriter } from './push-writer.js';
import { snappyBlock } from './snappy-block.js';

const gzipAsync = promisify(gzip);

/**
 * One writer for the module (so one per thread), made on first use: its
 * buffer is reused batch after batch and grows to the largest batch seen
 * (bounded by loki.batch_size). Safe because the protobuf path is synchronous
 * from encode to compress, and the compressed body is a new buffer, so no
 * body handed out aliases the writer's buffer.
 */
let pushWriter: PushWriter | undefined;

export type BodyFormat = 'protobuf' | 'json';

export interface EncodedBatch {
  readonly format: BodyFormat;
  /** The request body exactly as sent (snappy block or gzip). */
  readonly body: Buffer;
  readonly lines: number;
}

export const CONTENT_TYPE: Readonly<Record<BodyFormat, string>> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};
export const CONTENT_ENCODING: Readonly<Record<BodyFormat, string | undefined>> = {
  protobuf: undefined, // the snappy block is part of the protobuf content type, not a Content-Encoding
  json: 'gzip',
};

export async function encodeBatch(batch: OpenBatch, format: BodyFormat, withMetadata: boolean | MetadataPolicy): Promise<EncodedBatch> {
  const body =
    format === 'protobuf'
      ? snappyBlock().compress((pushWriter ??= new PushWriter()).encode(batch, withMetadata))
      : await gzipAsync(encodeJsonPush(batch, withMetadata), { level: 1 }); // gzip runs on the libuv pool, off the event loop
  return { format, body, lines: batch.lines };
}

/** Uncompressed JSON push body: `{"streams":[{"stream":{…},"values":[["<ns>","<line>",{…}]]}]}`. */
export function encodeJsonPush(batch: OpenBatch, withMetadata: boolean | MetadataPolicy): Buffer {
  const streams: { stream: Readonly<Record<string, string>>; values: unknown[][] }[] = [];
  for (const s of batch.streams.values()) {
    const values: unknown[][] = new Array(s.events.length);
    for (let i = 0; i < s.events.length; i++) {
      const ev = s.events[i]!;
      const md = withMetadata instanceof MetadataPolicy ? pairsObject(withMetadata.pairs(ev.metadata)) : withMetadata ? ev.metadata : undefined;
      values[i] =
        md !== undefined && hasKeys(md) ? [eventTimeNsString(ev), ev.line, lokiMetadata(md)] : [eventTimeNsString(ev), ev.line];
    }
    streams.push({ stream: s.stream.labels, values });
  }
  return Buffer.from(JSON.stringify({ streams }));
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function pairsObject(pairs: { name: string; value: string }[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined) return undefined;
  const o: Record<string, string> = {};
  for (const p of pairs) o[p.name] = p.value;
  return o;
}
