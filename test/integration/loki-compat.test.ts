/**
 * The pusher against the receiver in `loki` mode, which validates and
 * answers as Loki 3.x does (texts and codes from Loki's source, see
 * lokiPush in test/helpers/loki-receiver.ts), for each Loki setting the
 * README's "Loki versions and settings" lists.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { LokiPusher } from '../../src/sinks/loki/pusher.js';
import { LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { eventually, expectDeliveredOnce, lokiTestConfig, makeEvents, metricValue, silentLogger } from '../helpers/loki-fixtures.js';
import { startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';

const recent = (): number => Date.now() - 60_000;

describe('loki pusher against Loki\'s validation', () => {
  let rx: LokiReceiver | undefined;
  const pushers: LokiPusher[] = [];
  afterEach(async () => {
    for (const p of pushers.splice(0)) await p.stop({ timeoutMs: 200 });
    await rx?.close();
    rx = undefined;
  });

  async function startPusher(cfg: Config['loki']): Promise<{ pusher: LokiPusher; registry: Registry }> {
    const registry = new Registry();
    const pusher = new LokiPusher(cfg, { registry, logger: silentLogger });
    pushers.push(pusher);
    await pusher.start();
    return { pusher, registry };
  }

  it('Loki refusing structured metadata (2.9 default): the first batch is resent without it, nothing lost, later pushes carry none', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'loki', limits: { allowStructuredMetadata: false, addServiceName: true } } });
    const { pusher, registry } = await startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30 }));
    const events = makeEvents(200, { startMs: recent() });
    for (const ev of events.slice(0, 100)) pusher.handle(ev);
    await rx.waitForLines(100);
    for (const ev of events.slice(100)) pusher.handle(ev);
    await rx.waitForLines(200);
    await new Promise((r) => setTimeout(r, 100));
    // Every line stored once (Loki kept the metadata-less ones of the first push; the rest came again without metadata).
    expectDeliveredOnce(events, rx.entries.map((e) => ({ ...e, labels: e.labels.replace(/, service_name="[^"]*"/, '') })), false);
    const statuses = rx.requests.map((r) => r.status);
    expect(statuses[0]).toBe(400);
    expect(statuses.slice(1).every((s) => s === 204)).toBe(true);
    const withMd = events.slice(0, 100).filter((e) => e.metadata !== undefined).length;
    expect(await metricValue(registry, 'resent_lines_total', { reason: 'metadata_disallowed' })).toBe(withMd);
    expect(await metricValue(registry, 'structured_metadata_enabled')).toBe(0);
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
    expect(await metricValue(registry, 'lines_sent_total')).toBe(200);
  });

  it('structured_metadata: true keeps sending it; refused lines are dropped and counted, the rest stored', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'loki', limits: { allowStructuredMetadata: false } } });
    const { pusher, registry } = await startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30, structuredMetadata: true }));
    const events = makeEvents(60, { startMs: recent() });
    for (const ev of events) pusher.handle(ev);
    const withMd = events.filter((e) => e.metadata !== undefined).length;
    await eventually(async () => expect(await metricValue(registry, 'dropped_lines_total', { reason: 'metadata_disallowed' })).toBe(withMd));
    expect(rx.entries).toHaveLength(60 - withMd);
    expect(rx.requests.every((r) => r.status === 400)).toBe(true);
    expect(await metricValue(registry, 'structured_metadata_enabled')).toBe(1);
  });

  it('metadata over Loki\'s size and count limits: trimmed to them, resent, counted; nothing lost', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'loki', limits: { maxStructuredMetadataSize: 24, maxStructuredMetadataEntriesCount: 2 } } });
    const { pusher, registry } = await startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30 }));
    const events = makeEvents(90, { startMs: recent() });
    for (const ev of events.slice(0, 45)) pusher.handle(ev);
    await rx.waitForLines(45);
    for (const ev of events.slice(45)) pusher.handle(ev);
    await rx.waitForLines(90);
    await new Promise((r) => setTimeout(r, 100));
    expect(new Set(rx.entries.map((e) => e.line)).size).toBe(90);
    expect(rx.entries).toHaveLength(90);
    for (const e of rx.entries) {
      const names = Object.keys(e.metadata);
      expect(names.length).toBeLessThanOrEqual(2);
      expect(names.reduce((n, k) => n + k.length + e.metadata[k]!.length, 0)).toBeLessThanOrEqual(24);
    }
    // Kernel events carry 3 fields (facility, priority, seq): trimmed to the first two that fit.
    const kernel = rx.entries.find((e) => e.line.startsWith('BTRFS'))!;
    expect(kernel.metadata).toEqual({ facility: 'kern', priority: 'err' });
    expect(await metricValue(registry, 'metadata_trimmed_lines_total')).toBeGreaterThan(0);
    expect(await metricValue(registry, 'resent_lines_total', { reason: 'metadata_too_large' })).toBeGreaterThan(0);
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
    // Only the first push was refused: later batches were trimmed before they were sent.
    expect(rx.requests.filter((r) => r.status === 400)).toHaveLength(1);
  });

  it('entries older than reject_old_samples_max_age and too far behind: counted by reason, never retried, the rest stored once', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'loki', limits: { rejectOldSamplesMaxAgeMs: 7 * 24 * 3600_000 } } });
    const { pusher, registry } = await startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30 }));
    const old = makeEvents(20, { startMs: Date.now() - 30 * 24 * 3600_000, tag: 'old' });
    const fresh = makeEvents(30, { startMs: recent(), tag: 'fresh' });
    for (const ev of [...old, ...fresh]) pusher.handle(ev);
    await eventually(async () => expect(await metricValue(registry, 'dropped_lines_total', { reason: 'too_old' })).toBe(20));
    await new Promise((r) => setTimeout(r, 200)); // a retry or resend would show up here
    expect(rx.requests).toHaveLength(1);
    expectDeliveredOnce(fresh, rx.entries);
    expect(await metricValue(registry, 'lines_sent_total')).toBe(30);

    // The kernel ring buffer replayed after a reconnect: older than what the stream already holds.
    await rx.setMode({ kind: 'loki', limits: { outOfOrderWindowMs: 60 * 60_000 } });
    const cache = new LabelSetCache();
    const stream = cache.intern({ job: 'talos-kernel', host: '10.0.0.9' });
    const at = (ms: number, i: number): LogEvent => ({ timeMs: ms, timeNsRem: 0, receivedMs: 0, line: `ring #${i}`, stream, metadata: undefined, source: 'kernel' });
    pusher.handle(at(Date.now() - 1000, 0));
    await rx.waitForLines(31);
    const replay = [at(Date.now() - 3 * 3600_000, 1), at(Date.now() - 2 * 3600_000, 2), at(Date.now() - 500, 3)];
    for (const ev of replay) pusher.handle(ev);
    await eventually(async () => expect(await metricValue(registry, 'dropped_lines_total', { reason: 'out_of_order' })).toBe(2));
    await rx.waitForLines(32);
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.entries.filter((e) => e.line.startsWith('ring')).map((e) => e.line)).toEqual(['ring #0', 'ring #3']);
    expect(await metricValue(registry, 'retries_total')).toBe(0);
  });

  it('a 429 for one stream (stream limit) sets that stream aside: other streams keep flowing, it is delivered once the limit lifts', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'loki', limits: { maxStreams: 2 } } });
    const { pusher, registry } = await startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30, minBackoffMs: 50, maxBackoffMs: 100 }));
    const cache = new LabelSetCache();
    const s = (h: string) => cache.intern({ job: 'talos-kernel', host: h });
    const mk = (h: string, i: number): LogEvent => ({ timeMs: recent() + i, timeNsRem: 0, receivedMs: 0, line: `${h} #${i}`, stream: s(h), metadata: undefined, source: 'kernel' });
    for (let i = 0; i < 10; i++) for (const h of ['a', 'b', 'c']) pusher.handle(mk(h, i));
    await rx.waitFor(() => rx!.entries.length >= 20);
    // Stream c is refused (429) while a and b keep being delivered batch after batch.
    for (let round = 1; round <= 3; round++) {
      for (let i = round * 10; i < round * 10 + 10; i++) for (const h of ['a', 'b']) pusher.handle(mk(h, i));
      await rx.waitFor(() => rx!.entries.filter((e) => !e.line.startsWith('c')).length >= 20 + round * 20, 5000, `round ${round}`);
    }
    expect(rx.requests.some((r) => r.status === 429)).toBe(true);
    expect(rx.entries.some((e) => e.line.startsWith('c'))).toBe(false);
    expect(await metricValue(registry, 'resent_lines_total', { reason: 'stream_limited' })).toBeGreaterThanOrEqual(10);
    // The limit is raised: the set-aside stream arrives, each line once.
    await rx.setMode({ kind: 'loki', limits: { maxStreams: 10 } });
    await rx.waitFor(() => rx!.entries.filter((e) => e.line.startsWith('c')).length >= 10, 5000, 'stream c');
    await new Promise((r) => setTimeout(r, 200));
    const lines = rx.entries.map((e) => e.line);
    expect(new Set(lines).size).toBe(30 + 60); // nothing lost
    // Loki's answer is the same whether it took the other new streams of that push or none of them, so the
    // sidecar resends the new streams (a and b, 10 lines each) rather than risk losing them: duplicates, bounded.
    expect(lines.length - new Set(lines).size).toBeLessThanOrEqual(20);
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
  });

  it('a stream limit refusing every new stream of a push (Loki names only one) loses none of them', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'loki', limits: { maxStreams: 0 } } });
    const { pusher, registry } = await startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30, minBackoffMs: 50, maxBackoffMs: 100 }));
    const cache = new LabelSetCache();
    const mk = (h: string, i: number): LogEvent => ({ timeMs: recent() + i, timeNsRem: 0, receivedMs: 0, line: `${h} #${i}`, stream: cache.intern({ job: 'talos-kernel', host: h }), metadata: undefined, source: 'kernel' });
    for (let i = 0; i < 10; i++) for (const h of ['x', 'y', 'z']) pusher.handle(mk(h, i));
    await rx.waitFor(() => rx!.requests.some((r) => r.status === 429));
    expect(rx.entries).toHaveLength(0);
    await rx.setMode({ kind: 'loki', limits: { maxStreams: 10 } });
    await rx.waitForLines(30, 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(new Set(rx.entries.map((e) => e.line)).size).toBe(30);
    expect(rx.entries).toHaveLength(30);
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
  });

  it('a per-stream rate limit (429 from the ingester) does not block the other streams', async () => {
    let limited = true;
    rx = await startLokiReceiver({ mode: { kind: 'loki', limits: { streamRateLimited: (l) => limited && l.includes('host="noisy"') } } });
    const { pusher, registry } = await startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30, minBackoffMs: 50, maxBackoffMs: 100 }));
    const cache = new LabelSetCache();
    const mk = (h: string, i: number): LogEvent => ({ timeMs: recent() + i, timeNsRem: 0, receivedMs: 0, line: `${h} #${i}`, stream: cache.intern({ job: 'talos-kernel', host: h }), metadata: undefined, source: 'kernel' });
    // The noisy stream comes last in the push: Loki's ingester answers with the last stream's error.
    for (let i = 0; i < 5; i++) pusher.handle(mk('quiet', i));
    for (let i = 0; i < 5; i++) pusher.handle(mk('noisy', i));
    await rx.waitFor(() => rx!.requests.some((r) => r.status === 429));
    for (let i = 5; i < 15; i++) pusher.handle(mk('quiet', i));
    await rx.waitFor(() => rx!.entries.filter((e) => e.line.startsWith('quiet')).length >= 15, 5000, 'quiet stream');
    expect(rx.entries.some((e) => e.line.startsWith('noisy'))).toBe(false);
    limited = false;
    await rx.waitFor(() => rx!.entries.filter((e) => e.line.startsWith('noisy')).length >= 5, 5000, 'noisy stream');
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.entries).toHaveLength(20);
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
  });
});
