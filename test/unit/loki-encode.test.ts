import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { OpenBatch } from '../../src/sinks/loki/batch.js';
import { encodeBatch } from '../../src/sinks/loki/encode.js';
import { encodePushRequest } from '../../src/sinks/loki/logproto.js';
import { eventTimeNsString, LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { makeEvents } from '../helpers/loki-fixtures.js';
import { decodePush, decodePushRequest, snappyDecodeBlock } from '../helpers/loki-receiver.js';

const snappyjs = createRequire(import.meta.url)('snappyjs') as { uncompress(b: Buffer): Buffer };

function batchOf(events: LogEvent[], withMetadata = true): OpenBatch {
  const b = new OpenBatch(withMetadata);
  for (const ev of events) b.add(ev);
  return b;
}

function expectSameEntries(events: LogEvent[], decoded: ReturnType<typeof decodePushRequest>, withMetadata: boolean): void {
  expect(decoded).toHaveLength(events.length);
  // Entries come grouped by stream; within a stream, in arrival order.
  const byLine = new Map(decoded.map((e) => [e.line, e]));
  expect(byLine.size).toBe(events.length);
  for (const ev of events) {
    const got = byLine.get(ev.line)!;
    expect(got, ev.line).toBeDefined();
    expect(got.labels).toBe(ev.stream.key);
    expect(got.tsNs).toBe(eventTimeNsString(ev));
    expect(got.metadata).toEqual(withMetadata ? (ev.metadata ?? {}) : {});
  }
  const streamOrder = new Map<string, number[]>();
  for (const e of decoded) {
    const idx = Number(/#(\d+)$/.exec(e.line)![1]);
    streamOrder.set(e.labels, [...(streamOrder.get(e.labels) ?? []), idx]);
  }
  for (const idxs of streamOrder.values()) expect(idxs).toEqual([...idxs].sort((a, b) => a - b));
}

describe('loki protobuf encoding', () => {
  it('writes logproto.PushRequest with the push.proto field numbers', () => {
    const stream = new LabelSetCache().intern({ a: 'b' });
    const ev: LogEvent = { timeMs: 1002, timeNsRem: 3, receivedMs: 0, line: 'x', stream, metadata: { k: 'v' }, source: 'kernel' };
    const bytes = encodePushRequest(batchOf([ev]), true);
    // Hand-assembled from the .proto: streams=1 { labels=1 "{a=\"b\"}", entries=2 { timestamp=1 { seconds=1: 1, nanos=2: 2000003 },
    // line=2 "x", structuredMetadata=3 { name=1 "k", value=2 "v" } } }
    const nanos = [0x08, 0x01, 0x10, 0x83, 0x89, 0x7a]; // seconds 1, nanos 2_000_003 as varint
    const ts = [0x0a, nanos.length, ...nanos];
    const md = [0x1a, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76];
    const entry = [...ts, 0x12, 0x01, 0x78, ...md];
    const labels = [...Buffer.from('{a="b"}')];
    const streamMsg = [0x0a, labels.length, ...labels, 0x12, entry.length, ...entry];
    expect([...bytes]).toEqual([0x0a, streamMsg.length, ...streamMsg]);
  });

  it('round-trips every entry through an independent snappy + wire decoder', async () => {
    const events = makeEvents(500);
    const enc = await encodeBatch(batchOf(events), 'protobuf', true);
    expect(enc.lines).toBe(500);
    expect(enc.format).toBe('protobuf');
    const raw = snappyDecodeBlock(enc.body);
    expect(raw.equals(snappyjs.uncompress(enc.body))).toBe(true); // the test decoder agrees with the library
    expect(raw.equals(encodePushRequest(batchOf(events), true))).toBe(true);
    expectSameEntries(events, decodePushRequest(raw), true);
  });

  it('leaves structured metadata out when disabled', async () => {
    const events = makeEvents(50);
    const enc = await encodeBatch(batchOf(events, false), 'protobuf', false);
    expectSameEntries(events, decodePush(enc.body, 'application/x-protobuf', undefined), false);
  });

  it('keeps nanosecond timestamps exact at the edges', () => {
    const stream = new LabelSetCache().intern({ job: 'talos-kernel' });
    const cases: [number, number][] = [
      [0, 0],
      [999, 999_999],
      [1_772_162_047_000, 0],
      [1_772_162_047_999, 999_999],
      [4_102_444_800_123, 456_789], // year 2100: seconds beyond 32 bits of ms precision still exact
    ];
    const events = cases.map(([timeMs, timeNsRem], i): LogEvent => ({ timeMs, timeNsRem, receivedMs: 0, line: `l#${i}`, stream, metadata: undefined, source: 'kernel' }));
    const decoded = decodePushRequest(encodePushRequest(batchOf(events), true));
    expect(decoded.map((d) => d.tsNs)).toEqual(events.map((e) => BigInt(eventTimeNsString(e)).toString()));
  });
});

describe('loki JSON encoding', () => {
  it('writes gzip-compressed {"streams":[{"stream","values"}]} with metadata as the third value', async () => {
    const events = makeEvents(300);
    const enc = await encodeBatch(batchOf(events), 'json', true);
    expect(enc.format).toBe('json');
    const doc = JSON.parse(gunzipSync(enc.body).toString('utf8')) as { streams: { stream: Record<string, string>; values: unknown[][] }[] };
    const first = doc.streams[0]!;
    expect(first.stream).toEqual(events[0]!.stream.labels);
    expect(first.values[0]).toEqual([eventTimeNsString(events[0]!), events[0]!.line, events[0]!.metadata]);
    expectSameEntries(events, decodePush(enc.body, 'application/json', 'gzip'), true);
  });

  it('omits the metadata element when there is none or it is disabled', async () => {
    const events = makeEvents(30);
    const enc = await encodeBatch(batchOf(events, false), 'json', false);
    const doc = JSON.parse(gunzipSync(enc.body).toString('utf8')) as { streams: { values: unknown[][] }[] };
    for (const s of doc.streams) for (const v of s.values) expect(v).toHaveLength(2);
  });
});

describe('structured metadata names', () => {
  it('are sent as valid label names in both formats (as Loki >= 3.4 stores them)', async () => {
    const stream = new LabelSetCache().intern({ job: 'talos-kernel' });
    const ev: LogEvent = {
      timeMs: 1_772_162_047_125,
      timeNsRem: 0,
      receivedMs: 0,
      line: 'finished scheduled compaction',
      stream,
      metadata: { 'node-name': 'talos-519-vmy', 'compact-revision': '34567', '2fa': 'x', caller: 'mvcc/kvstore_compaction.go:57' },
      source: 'service',
    };
    const want = { node_name: 'talos-519-vmy', compact_revision: '34567', _2fa: 'x', caller: 'mvcc/kvstore_compaction.go:57' };
    for (const format of ['protobuf', 'json'] as const) {
      const enc = await encodeBatch(batchOf([ev]), format, true);
      const [got] = decodePush(enc.body, format === 'json' ? 'application/json' : 'application/x-protobuf', format === 'json' ? 'gzip' : undefined);
      expect(got!.metadata, format).toEqual(want);
    }
    expect(ev.metadata).toHaveProperty('node-name'); // the event itself is left alone (rules see it unchanged)
  });
});
