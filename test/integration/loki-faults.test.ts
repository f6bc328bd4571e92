import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { LokiPusher } from '../../src/sinks/loki/pusher.js';
import type { LogEvent } from '../../src/log-event.js';
import { eventually, expectDeliveredOnce, expectStreamOrder, lokiTestConfig, makeEvents, metricValue, silentLogger } from '../helpers/loki-fixtures.js';
import { startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';

describe('loki pusher under faults', () => {
  let rx: LokiReceiver | undefined;
  const pushers: LokiPusher[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    for (const p of pushers.splice(0)) await p.stop({ timeoutMs: 200 });
    await rx?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    rx = dir = undefined;
  });

  function startPusher(cfg: Config['loki']): { pusher: LokiPusher; registry: Registry; ready: Promise<void> } {
    const registry = new Registry();
    const pusher = new LokiPusher(cfg, { registry, logger: silentLogger });
    pushers.push(pusher);
    return { pusher, registry, ready: pusher.start() };
  }

  async function feed(pusher: LokiPusher, events: LogEvent[], chunk = 50, pauseMs = 5): Promise<void> {
    for (let i = 0; i < events.length; i += chunk) {
      for (const ev of events.slice(i, i + chunk)) pusher.handle(ev);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  it('retries 500 and 429 answers and delivers each line once', async () => {
    rx = await startLokiReceiver();
    rx.script({ kind: 'status', status: 500 }, { kind: 'status', status: 503 }, { kind: 'status', status: 429, body: 'Ingestion rate limit exceeded' });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url));
    await ready;
    const events = makeEvents(200);
    for (const ev of events) pusher.handle(ev);
    await rx.waitForLines(200);
    expectDeliveredOnce(events, rx.entries);
    expect(rx.requests.slice(0, 4).map((r) => r.status)).toEqual([500, 503, 429, 204]);
    await eventually(async () => expect(await metricValue(registry, 'lines_sent_total')).toBe(200));
    expect(await metricValue(registry, 'retries_total')).toBe(3);
    expect(await metricValue(registry, 'requests_total', { code: '429' })).toBe(1);
  });

  it('does not retry a 400; counts only the entries Loki says it ignored, by reason', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'reject', keep: (e) => !e.line.endsWith('0') } });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { batchWaitMs: 50 }));
    await ready;
    const events = makeEvents(100);
    for (const ev of events) pusher.handle(ev);
    await rx.waitFor(() => rx!.requests.length >= 1);
    await new Promise((r) => setTimeout(r, 300)); // would-be retries have time to show up
    expect(rx.requests.map((r) => r.status)).toEqual([400]);
    expect(rx.entries).toHaveLength(90); // Loki kept the valid ones
    // The receiver answers as Loki's ingester does for entries too far behind: counted as out_of_order.
    expect(await metricValue(registry, 'dropped_lines_total', { reason: 'out_of_order' })).toBe(10);
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(10);
    expect(await metricValue(registry, 'lines_sent_total')).toBe(90);
    expect(await metricValue(registry, 'retries_total')).toBe(0);
    // The sender carries on with the next batch.
    await rx.setMode({ kind: 'accept' });
    pusher.handle(makeEvents(1, { tag: 'after' })[0]!);
    await rx.waitForLines(91);
  });

  it('drops a batch answered 401 whole, without retrying', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'status', status: 401, body: 'no org id' } });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { batchWaitMs: 30 }));
    await ready;
    for (const ev of makeEvents(20)) pusher.handle(ev);
    await rx.waitFor(() => rx!.requests.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(1);
    expect(await metricValue(registry, 'dropped_lines_total', { reason: 'rejected' })).toBe(20);
  });

  it('times out slow answers and resends; every line arrives (duplicates only from the timed-out sends)', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'slow', delayMs: 1500 } });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { timeoutMs: 200, batchBytes: 4096 }));
    await ready;
    const events = makeEvents(100);
    for (const ev of events) pusher.handle(ev);
    await rx.waitFor(() => rx!.requests.length + rx!.stats.requests >= 3); // a few timed-out tries
    await rx.setMode({ kind: 'accept' });
    await rx.waitFor(() => new Set(rx!.entries.map((e) => e.line)).size === 100, 10_000, 'all lines');
    expect(await metricValue(registry, 'retries_total')).toBeGreaterThanOrEqual(2);
    expect(await metricValue(registry, 'requests_total', { code: 'error' })).toBeGreaterThanOrEqual(2);
    const seen = new Map<string, number>();
    for (const e of rx.entries) seen.set(e.line, (seen.get(e.line) ?? 0) + 1);
    const dupes = [...seen.values()].filter((n) => n > 1).length;
    expect(dupes).toBeGreaterThan(0); // the slow receiver stored what it got, as Loki would
    await eventually(async () => expect(await metricValue(registry, 'lines_sent_total')).toBe(100));
  });

  it('retries connection resets', async () => {
    rx = await startLokiReceiver();
    rx.script({ kind: 'reset' }, { kind: 'reset' });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url));
    await ready;
    const events = makeEvents(50);
    for (const ev of events) pusher.handle(ev);
    await rx.waitForLines(50);
    expectDeliveredOnce(events, rx.entries);
    await eventually(async () => expect(await metricValue(registry, 'retries_total')).toBe(2));
  });

  it('spools while Loki is down and replays in order when it is back: nothing lost, nothing twice', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'down' } });
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { spoolDir: dir, maxRetries: 2, batchBytes: 8 * 1024 }));
    await ready;
    const events = makeEvents(1500);
    await feed(pusher, events.slice(0, 1000));
    // Every line is in the write-ahead log, unacknowledged.
    await eventually(async () => expect(await metricValue(registry, 'spool_pending_bytes')).toBeGreaterThan(0));
    expect((await readdir(dir)).length).toBeGreaterThan(0);
    await rx.setMode({ kind: 'accept' });
    await feed(pusher, events.slice(1000));
    await rx.waitForLines(1500, 15_000);
    expectDeliveredOnce(events, rx.entries);
    // All acknowledged: only the segment being written remains, and the acknowledged position.
    await eventually(async () => expect(await metricValue(registry, 'spool_pending_bytes')).toBe(0));
    await eventually(async () => expect(await readdir(dir!)).toEqual([expect.stringMatching(/^\d{20}\.wal$/), 'ack']));
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
  });

  it('leaves the backlog in the log once memory exceeds max_buffer, and reads it back from there', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'status', status: 503 } });
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    const { pusher, registry, ready } = startPusher(
      lokiTestConfig(rx.url, { spoolDir: dir, maxRetries: 1000, maxBufferBytes: 4096, batchBytes: 2048, minBackoffMs: 50, maxBackoffMs: 50 }),
    );
    await ready;
    const events = makeEvents(400);
    await feed(pusher, events, 40, 5);
    await eventually(async () => expect(await metricValue(registry, 'spool_pending_bytes')).toBeGreaterThan(0));
    expect(await metricValue(registry, 'buffer_bytes')).toBeLessThanOrEqual(4096 + 2048 * 2);
    await rx.setMode({ kind: 'accept' });
    await rx.waitForLines(400, 15_000);
    expectDeliveredOnce(events, rx.entries);
  });

  it('without a spool, bounds memory by dropping the oldest batches and counts them', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'down' } });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { maxRetries: 1000, maxBufferBytes: 4096, batchBytes: 1024 }));
    await ready;
    const events = makeEvents(500);
    await feed(pusher, events, 50, 5);
    await new Promise((r) => setTimeout(r, 100));
    expect(await metricValue(registry, 'buffer_bytes')).toBeLessThanOrEqual(4096 + 1024 * 2);
    const dropped = await metricValue(registry, 'dropped_lines_total', { reason: 'buffer_full' });
    expect(dropped).toBeGreaterThan(0);
    await rx.setMode({ kind: 'accept' });
    await rx.waitForLines(500 - dropped, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.entries).toHaveLength(500 - dropped);
    expectStreamOrder(rx.entries);
  });

  it('with a spool, gives up on a batch Loki answers 503 for longer than retry_max_time (counted), then carries on', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'status', status: 503 } });
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { spoolDir: dir, retryMaxTimeMs: 300, minBackoffMs: 20, maxBackoffMs: 50, batchWaitMs: 10 }));
    await ready;
    for (const ev of makeEvents(30)) pusher.handle(ev);
    await eventually(async () => expect(await metricValue(registry, 'dropped_lines_total', { reason: 'retries_exhausted' })).toBe(30), 3000);
    expect(rx.requests.length).toBeGreaterThan(3); // retried meanwhile
    await rx.setMode({ kind: 'accept' });
    for (const ev of makeEvents(5, { tag: 'next' })) pusher.handle(ev);
    await rx.waitForLines(5);
    await eventually(async () => expect(await metricValue(registry, 'spool_pending_bytes')).toBe(0));
  });

  it('with a spool, retries a connection failure past retry_max_time: an outage loses nothing', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'down' } });
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { spoolDir: dir, retryMaxTimeMs: 100, minBackoffMs: 20, maxBackoffMs: 50, batchWaitMs: 10 }));
    await ready;
    const events = makeEvents(30);
    for (const ev of events) pusher.handle(ev);
    await new Promise((r) => setTimeout(r, 400));
    await rx.setMode({ kind: 'accept' });
    await rx.waitForLines(30);
    expectDeliveredOnce(events, rx.entries);
    expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
  });

  it('without a spool, drops a batch after max_retries and counts it', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'status', status: 500 } });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { maxRetries: 3, batchWaitMs: 10 }));
    await ready;
    for (const ev of makeEvents(30)) pusher.handle(ev);
    await rx.waitFor(() => rx!.requests.length >= 3);
    await eventually(async () => expect(await metricValue(registry, 'dropped_lines_total', { reason: 'retries_exhausted' })).toBe(30));
    expect(rx.requests).toHaveLength(3);
  });

  it('enforces the spool bound: oldest dropped and counted, the rest delivered', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'down' } });
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    const { pusher, registry, ready } = startPusher(
      lokiTestConfig(rx.url, { spoolDir: dir, maxRetries: 1, batchBytes: 2048, spoolMaxBytes: 16 * 1024, maxBackoffMs: 20 }),
    );
    await ready;
    const events = makeEvents(2000);
    await feed(pusher, events, 100, 10);
    await pusher.stop({ timeoutMs: 100 }); // everything left goes to the spool
    const dropped = await metricValue(registry, 'dropped_lines_total', { reason: 'spool_full' });
    expect(dropped).toBeGreaterThan(0);

    await rx.setMode({ kind: 'accept' });
    const next = startPusher(lokiTestConfig(rx.url, { spoolDir: dir, spoolMaxBytes: 16 * 1024 }));
    await next.ready;
    await rx.waitForLines(2000 - dropped, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.entries).toHaveLength(2000 - dropped);
    // What survived is the newest part, each line once and in order.
    expectStreamOrder(rx.entries);
    expect(new Set(rx.entries.map((e) => e.line)).size).toBe(2000 - dropped);
    expect(rx.entries.some((e) => e.line.endsWith('#1999'))).toBe(true);
  });

  it('spools on stop while Loki is down, and the next start replays it and leaves the spool empty', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'down' } });
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    const first = startPusher(lokiTestConfig(rx.url, { spoolDir: dir, maxRetries: 50 }));
    await first.ready;
    const events = makeEvents(700);
    await feed(first.pusher, events.slice(0, 500));
    await first.pusher.stop({ timeoutMs: 300 });
    expect((await readdir(dir)).length).toBeGreaterThan(0);
    expect(rx.entries).toHaveLength(0);

    await rx.setMode({ kind: 'accept' });
    const second = startPusher(lokiTestConfig(rx.url, { spoolDir: dir }));
    // Lines handed in before start() completes are sent after the spooled ones.
    for (const ev of events.slice(500)) second.pusher.handle(ev);
    await second.ready;
    await rx.waitForLines(700, 10_000);
    expectDeliveredOnce(events, rx.entries);
    await second.pusher.stop();
    expect(await metricValue(second.registry, 'spool_pending_bytes')).toBe(0);
    expect(await readdir(dir)).toEqual([expect.stringMatching(/^\d{20}\.wal$/), 'ack']);
  });

  it('stops within its bound while a push hangs; the unconfirmed batch is spooled and replayed', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'slow', delayMs: 5000, store: false } });
    dir = await mkdtemp(join(tmpdir(), 'loki-spool-'));
    const first = startPusher(lokiTestConfig(rx.url, { spoolDir: dir, timeoutMs: 10_000 }));
    await first.ready;
    const events = makeEvents(40);
    for (const ev of events) first.pusher.handle(ev);
    await rx.waitFor(() => rx!.stats.requests >= 1);
    const t0 = Date.now();
    await first.pusher.stop({ timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(3000); // the hanging request was abandoned, not awaited for 5-10 s
    expect(await metricValue(first.registry, 'lines_sent_total')).toBe(0);

    await rx.setMode({ kind: 'accept' });
    const second = startPusher(lokiTestConfig(rx.url, { spoolDir: dir }));
    await second.ready;
    await rx.waitForLines(40);
    expectDeliveredOnce(events, rx.entries);
  });

  it('without a spool counts what stop could not deliver', async () => {
    rx = await startLokiReceiver({ mode: { kind: 'slow', delayMs: 5000, store: false } });
    const { pusher, registry, ready } = startPusher(lokiTestConfig(rx.url, { timeoutMs: 10_000 }));
    await ready;
    for (const ev of makeEvents(40)) pusher.handle(ev);
    await rx.waitFor(() => rx!.stats.requests >= 1);
    await pusher.stop({ timeoutMs: 200 });
    expect(await metricValue(registry, 'dropped_lines_total', { reason: 'shutdown' })).toBe(40);
  });
});

describe('loki pusher logs', () => {
  it('never logs credentials a Loki (or a proxy) echoes back in an error body, and logs a repeated refusal once per interval', async () => {
    const rx = await startLokiReceiver({
      mode: {
        kind: 'status',
        status: 403,
        body: 'forbidden. request was: POST /loki/api/v1/push\nAuthorization: Basic dXNlcjpodW50ZXIy\nupstream http://user:hunter2@gw:3100/?token=abc123',
      },
    });
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(s) });
    const registry = new Registry();
    const pusher = new LokiPusher(lokiTestConfig(rx.url.replace('http://', 'http://user:hunter2@'), { batchWaitMs: 10 }), { registry, logger });
    try {
      await pusher.start();
      for (let k = 0; k < 3; k++) {
        for (const ev of makeEvents(5, { tag: `k${k}` })) pusher.handle(ev);
        await rx.waitFor(() => rx.requests.length >= k + 1);
      }
      await eventually(async () => expect(await metricValue(registry, 'dropped_lines_total', { reason: 'rejected' })).toBe(15));
      expect(rx.requests[0]!.authorization).toBe(`Basic ${Buffer.from('user:hunter2').toString('base64')}`);
    } finally {
      await pusher.stop({ timeoutMs: 200 });
      await rx.close();
    }
    const text = lines.join('');
    expect(text).toContain('forbidden');
    for (const secret of ['hunter2', 'dXNlcjpodW50ZXIy', 'abc123']) expect(text).not.toContain(secret);
    // Three refusals, one warning: the others are folded into the next one a minute later.
    expect(lines.filter((l) => l.includes('refused part of a push'))).toHaveLength(1);
  });
});
