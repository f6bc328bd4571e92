/**
 * Loki's push message (`pkg/push/push.proto`, package `logproto`) as a
 * protobufjs reflection schema. Field numbers are the wire contract; the
 * gogoproto options Loki's file carries do not change the encoding.
 *
 * The pusher does not encode with this: it uses PushWriter (push-writer.ts),
 * which writes the same bytes faster. This schema and encodePushRequest stay
 * as the reference PushWriter is tested and benchmarked against.
 */
import protobuf from 'protobufjs/light.js';
import type { LogEvent } from '../../log-event.js';
import type { OpenBatch } from './batch.js';
import { lokiMetadataName } from './metadata-name.js';
import { MetadataPolicy } from './metadata-policy.js';

const root = protobuf.Root.fromJSON({
  nested: {
    logproto: {
      nested: {
        PushRequest: { fields: { streams: { rule: 'repeated', type: 'StreamAdapter', id: 1 } } },
        StreamAdapter: {
          fields: {
            labels: { type: 'string', id: 1 },
            entries: { rule: 'repeated', type: 'EntryAdapter', id: 2 },
            // Filled in by Loki's distributor; clients leave it 0 (not written).
            hash: { type: 'uint64', id: 3 },
          },
        },
        EntryAdapter: {
          fields: {
            timestamp: { type: 'Timestamp', id: 1 },
            line: { type: 'string', id: 2 },
            structuredMetadata: { rule: 'repeated', type: 'LabelPairAdapter', id: 3 },
          },
        },
        LabelPairAdapter: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        // google.protobuf.Timestamp, inlined: only its field numbers matter on the wire.
        Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
      },
    },
  },
});

export const PushRequestType = root.lookupType('logproto.PushRequest');

/** Plain-object shapes handed to `PushRequestType.encode` (no fromObject conversion needed). */
export interface PushRequestMessage {
  streams: StreamMessage[];
}
export interface StreamMessage {
  labels: string;
  entries: EntryMessage[];
}
export interface EntryMessage {
  timestamp: { seconds: number | undefined; nanos: number | undefined };
  line: string;
  structuredMetadata: LabelPairMessage[] | undefined;
}
export interface LabelPairMessage {
  name: string;
  value: string;
}

/** Uncompressed PushRequest bytes for `batch`, encoded by protobufjs from the schema above. */
export function encodePushRequest(batch: OpenBatch, withMetadata: boolean | MetadataPolicy): Buffer {
  const streams: StreamMessage[] = [];
  for (const s of batch.streams.values()) {
    const entries: EntryMessage[] = new Array(s.events.length);
    for (let i = 0; i < s.events.length; i++) {
      const ev = s.events[i]!;
      const seconds = Math.floor(ev.timeMs / 1000);
      const nanos = (ev.timeMs - seconds * 1000) * 1_000_000 + ev.timeNsRem;
      entries[i] = {
        // Zero scalars left unset, as proto3 encoders (Go's included) leave them out.
        timestamp: { seconds: seconds !== 0 ? seconds : undefined, nanos: nanos !== 0 ? nanos : undefined },
        line: ev.line,
        structuredMetadata: withMetadata instanceof MetadataPolicy ? withMetadata.pairs(ev.metadata) : withMetadata ? metadataPairs(ev) : undefined,
      };
    }
    streams.push({ labels: s.stream.key, entries });
  }
  const bytes = PushRequestType.encode({ streams }).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function metadataPairs(ev: LogEvent): LabelPairMessage[] | undefined {
  const md = ev.metadata;
  if (md === undefined) return undefined;
  const out: LabelPairMessage[] = [];
  for (const name in md) out.push({ name: lokiMetadataName(name), value: md[name]! });
  return out.length > 0 ? out : undefined;
}
