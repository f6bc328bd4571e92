import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { LokiPusher } from '../../src/sinks/loki/pusher.js';
import type { LogEvent } from '../../src/log-event.js';
import { eventually, expectDeliveredOnce, lokiTestConfig, makeEvents, metricValue, silentLogger } from '../helpers/loki-fixtures.js';
import { startLokiReceiver, type LokiReceiver } from '../helpers/loki-receiver.js';

describe('loki pusher → receiver', () => {
  let rx: LokiReceiver | undefined;
  let pusher: LokiPusher | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await pusher?.stop({ timeoutMs: 500 });
    await rx?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    rx = pusher = dir = undefined;
  });

  async function run(cfg: Config['loki'], events: LogEvent[]): Promise<Registry> {
    const registry = new Registry();
    pusher = new LokiPusher(cfg, { registry, logger: silentLogger, now: () => 1_772_000_000_000 });
    await pusher.start();
    for (const ev of events) pusher.handle(ev);
    await rx!.waitForLines(events.length);
    return registry;
  }

  for (const format of ['protobuf', 'json'] as const) {
    it(`delivers every line once, in order per stream (${format})`, async () => {
      rx = await startLokiReceiver();
      const events = makeEvents(3000);
      // Small batches: many requests, every stream split across batches.
      const registry = await run(lokiTestConfig(rx.url, { format, batchBytes: 16 * 1024, tenant: 'team-a' }), events);
      expectDeliveredOnce(events, rx.entries);
      expect(rx.requests.length).toBeGreaterThan(5);
      for (const r of rx.requests) {
        expect(r.status).toBe(204);
        expect(r.tenant).toBe('team-a');
        expect(r.contentType).toBe(format === 'protobuf' ? 'application/x-protobuf' : 'application/json');
        expect(r.contentEncoding).toBe(format === 'protobuf' ? undefined : 'gzip');
        expect(r.path).toBe('/loki/api/v1/push');
      }
      await eventually(async () => expect(await metricValue(registry, 'lines_sent_total')).toBe(3000));
      expect(await metricValue(registry, 'batches_sent_total')).toBe(rx.requests.length);
      expect(await metricValue(registry, 'bytes_sent_total')).toBe(rx.requests.reduce((a, r) => a + r.bodyBytes, 0));
      expect(await metricValue(registry, 'last_success_timestamp_seconds')).toBe(1_772_000_000);
      expect(await metricValue(registry, 'dropped_lines_total')).toBe(0);
    });
  }

  it('sends a batch after batch_wait even when it is small, and omits metadata when disabled', async () => {
    rx = await startLokiReceiver();
    const events = makeEvents(3);
    await run(lokiTestConfig(rx.url, { batchWaitMs: 50, structuredMetadata: false }), events);
    expect(rx.requests).toHaveLength(1);
    expectDeliveredOnce(events, rx.entries, false);
  });

  it('honours a path prefix, basic auth from a password file, and no tenant header when unset', async () => {
    rx = await startLokiReceiver({ pathPrefix: '/gw/loki-a' });
    dir = await mkdtemp(join(tmpdir(), 'loki-auth-'));
    await writeFile(join(dir, 'pw'), 's3cret\n');
    const events = makeEvents(10);
    await run(lokiTestConfig(`${rx.url}/`, { basicAuthUsername: 'talos', basicAuthPasswordFile: join(dir, 'pw') }), events);
    expect(rx.requests[0]!.path).toBe('/gw/loki-a/loki/api/v1/push');
    expect(rx.requests[0]!.authorization).toBe(`Basic ${Buffer.from('talos:s3cret').toString('base64')}`);
    expect(rx.requests[0]!.tenant).toBeUndefined();
    expectDeliveredOnce(events, rx.entries);
  });

  it('sends a bearer token from a file', async () => {
    rx = await startLokiReceiver();
    dir = await mkdtemp(join(tmpdir(), 'loki-auth-'));
    await writeFile(join(dir, 'token'), 'tok-123\n');
    await run(lokiTestConfig(rx.url, { bearerTokenFile: join(dir, 'token') }), makeEvents(5));
    expect(rx.requests[0]!.authorization).toBe('Bearer tok-123');
  });

  it('refuses conflicting auth and unreadable credential files at start', async () => {
    const registry = new Registry();
    const both = new LokiPusher(lokiTestConfig('http://127.0.0.1:9', { basicAuthUsername: 'u', bearerToken: 't' }), { registry, logger: silentLogger });
    await expect(both.start()).rejects.toThrow(/either basic auth or a bearer token/);
    const missing = new LokiPusher(lokiTestConfig('http://127.0.0.1:9', { bearerTokenFile: '/nonexistent/token' }), { registry: new Registry(), logger: silentLogger });
    await expect(missing.start()).rejects.toThrow(/cannot read bearer token file/);
  });

  it('flushes the open batch on stop', async () => {
    rx = await startLokiReceiver();
    const registry = new Registry();
    pusher = new LokiPusher(lokiTestConfig(rx.url, { batchWaitMs: 60_000 }), { registry, logger: silentLogger });
    await pusher.start();
    const events = makeEvents(100);
    for (const ev of events) pusher.handle(ev);
    expect(rx.entries).toHaveLength(0);
    await pusher.stop();
    expectDeliveredOnce(events, rx.entries);
    // After stop, lines are counted, not kept.
    pusher.handle(events[0]!);
    expect(await metricValue(registry, 'dropped_lines_total', { reason: 'shutdown' })).toBe(1);
  });
});

describe('loki pusher over TLS', () => {
  let rx: LokiReceiver | undefined;
  let dir: string | undefined;
  const pushers: LokiPusher[] = [];
  afterEach(async () => {
    for (const p of pushers.splice(0)) await p.stop({ timeoutMs: 200 });
    await rx?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    rx = dir = undefined;
  });

  /** A self-signed certificate for 127.0.0.1 (it is its own CA). */
  async function selfSigned(): Promise<{ key: string; cert: string; certFile: string }> {
    dir = await mkdtemp(join(tmpdir(), 'loki-tls-'));
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=loki-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
    ], { stdio: 'ignore' });
    return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
  }

  function start(cfg: Config['loki']): { pusher: LokiPusher; registry: Registry } {
    const registry = new Registry();
    const pusher = new LokiPusher(cfg, { registry, logger: silentLogger });
    pushers.push(pusher);
    return { pusher, registry };
  }

  it('verifies Loki against tls.ca_file and refuses an unknown certificate', async () => {
    const tls = await selfSigned();
    rx = await startLokiReceiver({ tls: { key: tls.key, cert: tls.cert } });
    expect(rx.url).toMatch(/^https:/);
    const events = makeEvents(20);

    const trusted = start(lokiTestConfig(rx.url, { tls: { caFile: tls.certFile, certFile: '', keyFile: '', insecureSkipVerify: false } }));
    await trusted.pusher.start();
    for (const ev of events) trusted.pusher.handle(ev);
    await rx.waitForLines(20);
    expectDeliveredOnce(events, rx.entries);

    const untrusted = start(lokiTestConfig(rx.url, { maxRetries: 2 }));
    await untrusted.pusher.start();
    untrusted.pusher.handle(makeEvents(1, { tag: 'untrusted' })[0]!);
    await eventually(async () => expect(await metricValue(untrusted.registry, 'dropped_lines_total', { reason: 'retries_exhausted' })).toBe(1));
    expect(await metricValue(untrusted.registry, 'requests_total', { code: 'error' })).toBe(2);
    expect(rx.entries).toHaveLength(20);
  });

  it('skips verification when tls.insecure_skip_verify is set', async () => {
    const tls = await selfSigned();
    rx = await startLokiReceiver({ tls: { key: tls.key, cert: tls.cert } });
    const { pusher } = start(lokiTestConfig(rx.url, { tls: { caFile: '', certFile: '', keyFile: '', insecureSkipVerify: true } }));
    await pusher.start();
    pusher.handle(makeEvents(1)[0]!);
    await rx.waitForLines(1);
  });
});
