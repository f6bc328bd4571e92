/**
 * PushWriter (src/sinks/loki/push-writer.ts) writes the same PushRequest as
 * the protobufjs encoder: byte for byte, and decoded by the same schema.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { OpenBatch } from '../../src/sinks/loki/batch.js';
import { encodePushRequest, PushRequestType } from '../../src/sinks/loki/logproto.js';
import { PushWriter } from '../../src/sinks/loki/push-writer.js';

const cache = new LabelSetCache();

interface Ev {
  host: string;
  line: string;
  timeMs: number;
  nsRem: number;
  md?: Record<string, string> | undefined;
}

function batchOf(events: readonly Ev[], withMetadata: boolean): OpenBatch {
  const b = new OpenBatch(withMetadata);
  for (const e of events) {
    const ev: LogEvent = {
      timeMs: e.timeMs,
      timeNsRem: e.nsRem,
      receivedMs: e.timeMs,
      line: e.line,
      stream: cache.intern({ job: 'talos-kernel', host: e.host, talos_service: 'kernel' }),
      metadata: e.md,
      source: 'kernel',
    };
    b.add(ev);
  }
  return b;
}

function same(writer: PushWriter, b: OpenBatch, withMetadata: boolean): void {
  const want = encodePushRequest(b, withMetadata);
  const got = Buffer.from(writer.encode(b, withMetadata));
  expect(PushRequestType.toObject(PushRequestType.decode(got), { longs: String })).toEqual(PushRequestType.toObject(PushRequestType.decode(want), { longs: String }));
  expect(got.equals(want)).toBe(true);
}

describe('PushWriter', () => {
  it('writes what protobufjs writes for edge cases: empty, long and astral lines, zero times, metadata', () => {
    const w = new PushWriter(64); // tiny: forces growth
    const long = 'x'.repeat(20_000);
    const events: Ev[] = [
      { host: 'a', line: '', timeMs: 0, nsRem: 0 },
      { host: 'a', line: 'é😀<>&"\\\n', timeMs: 1_700_000_000_123, nsRem: 456_789, md: { facility: 'kern', 'bad-name': 'v', empty: '' } },
      { host: 'b', line: long, timeMs: 1000, nsRem: 0 },
      { host: 'b', line: 'é'.repeat(42), timeMs: 999, nsRem: 1 },
      { host: 'c', line: '€'.repeat(5461), timeMs: 1_700_000_000_000, nsRem: 0, md: {} },
      { host: 'c', line: 'y'.repeat(127), timeMs: -1500, nsRem: 0 },
    ];
    same(w, batchOf(events, true), true);
    same(w, batchOf(events, false), false);
  });

  it('matches protobufjs on random batches, reusing one writer', () => {
    const w = new PushWriter(256);
    const ev = fc.record({
      host: fc.constantFrom('a', 'b', 'c'),
      line: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ maxLength: 6000 })),
      timeMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      nsRem: fc.integer({ min: 0, max: 999_999 }),
      md: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 200 }), { maxKeys: 4 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 30 }), fc.boolean(), (events, withMetadata) => {
        same(w, batchOf(events, withMetadata), withMetadata);
      }),
      { numRuns: 400 },
    );
  });
});
