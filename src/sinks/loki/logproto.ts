/**
 * Loki's push message (`pkg/push/push.proto`, package `logproto`) as a
 * protobufjs reflection schema. Field numbers are the wire contract; the
 * gogoproto options Loki's file carries do not change the encoding.
 */
import protobuf from 'protobufjs/light.js';

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
  timestamp: { seconds: number; nanos: number };
  line: string;
  structuredMetadata: LabelPairMessage[] | undefined;
}
export interface LabelPairMessage {
  name: string;
  value: string;
}
