/**
 * Notifier behaviour against a recording 127.0.0.1 HTTP peer: what is posted,
 * when, in which batches, and what happens when the peer fails. Time for
 * startsAt/endsAt and resends comes from an injected clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry, type Registry } from '../../src/metrics/registry.js';
import { AlertmanagerNotifier } from '../../src/sinks/alertmanager/notifier.js';
import { alertChange, amConfig, BTRFS_RULE, captureLogger, rulesConfig } from '../helpers/alert-change.js';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alertmanager.js';
import type { Config } from '../../src/config/schema.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 0);
const iso = (ms: number): string => new Date(ms).toISOString();

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function receiver(): Promise<AlertReceiver> {
  const r = await startAlertReceiver();
  cleanup.push(() => r.close());
  return r;
}

function notifier(
  urls: string[],
  o: { am?: Partial<Config['alertmanager']>; rules?: Partial<Config['rules']>; clock?: { t: number }; registry?: Registry } = {},
) {
  const clock = o.clock ?? { t: T0 };
  const registry = o.registry ?? createRegistry({ processMetrics: false });
  const log = captureLogger();
  const n = new AlertmanagerNotifier(amConfig(urls, o.am), rulesConfig(o.rules), { registry, logger: log.logger, now: () => clock.t });
  cleanup.push(() => n.stop());
  return { n, clock, registry, log };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll (bounded) until `read()` returns `want`: the peer answers before the notifier has counted it. */
async function eventually<T>(read: () => Promise<T> | T, want: T, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (last !== want && Date.now() < deadline) {
    await sleep(5);
    last = await read();
  }
  expect(last).toBe(want);
}

describe('AlertmanagerNotifier', () => {
  it('posts a firing alert at once with labels, external labels, startsAt, endsAt and generatorURL', async () => {
    const r = await receiver();
    const { n } = notifier([r.url], {
      rules: { externalLabels: { cluster: 'prod', host: 'ignored' }, externalUrl: 'https://grafana.example.com', resendDelayMs: 60_000, tickMs: 1000 },
    });
    const fired = T0 - 5000;
    n.handle(alertChange('firing', { firedAtMs: fired }));
    const [post] = await r.waitFor((p) => p.length === 1);
    expect(post!.method).toBe('POST');
    expect(post!.path).toBe('/api/v2/alerts');
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.alerts).toHaveLength(1);
    const a = post!.alerts[0]!;
    expect(a.labels).toEqual({ alertname: 'BTRFSCorruptionDetected', host: '10.0.0.5', job: 'talos-kernel', severity: 'critical', cluster: 'prod' });
    expect(a.annotations).toEqual({ summary: 'BTRFS corruption on 10.0.0.5', description: 'csum failed ino 257' });
    expect(a.startsAt).toBe(iso(fired));
    expect(a.endsAt).toBe(iso(T0 + 4 * 60_000));
    expect(JSON.parse(new URL(a.generatorURL!).searchParams.get('left')!).queries[0].expr).toBe(BTRFS_RULE.expr);
  });

  it('omits generatorURL without an external URL and never sends pending alerts', async () => {
    const r = await receiver();
    const { n } = notifier([r.url]);
    n.handle(alertChange('pending', { labels: { alertname: 'P', host: 'a' } }));
    n.handle(alertChange('firing', { labels: { alertname: 'F', host: 'b' } }));
    await r.waitFor((p) => p.length === 1);
    await sleep(50);
    expect(r.posts).toHaveLength(1);
    expect(r.posts[0]!.alerts.map((a) => a.labels.alertname)).toEqual(['F']);
    expect('generatorURL' in r.posts[0]!.alerts[0]!).toBe(false);
  });

  it('batches what is queued in the same turn, at most maxBatch per POST', async () => {
    const r = await receiver();
    const { n } = notifier([r.url], { am: { maxBatch: 2 } });
    for (let i = 0; i < 5; i++) n.handle(alertChange('firing', { labels: { alertname: 'A', host: `h${i}` } }));
    await r.waitFor((p) => p.reduce((s, x) => s + x.alerts.length, 0) === 5);
    expect(r.posts.map((p) => p.alerts.length)).toEqual([2, 2, 1]);
    expect(r.posts.flatMap((p) => p.alerts.map((a) => a.labels.host))).toEqual(['h0', 'h1', 'h2', 'h3', 'h4']);
  });

  it('re-sends firing alerts every resendDelay with a fresh endsAt, and resolved ones with endsAt = resolvedAt until retention ends', async () => {
    const r = await receiver();
    const clock = { t: T0 };
    const { n } = notifier([r.url], { clock, rules: { resendDelayMs: 60_000, tickMs: 1000, resolvedRetentionMs: 15 * 60_000 } });
    n.handle(alertChange('firing', { firedAtMs: T0 }));
    await r.waitFor((p) => p.length === 1);

    clock.t = T0 + 59_999;
    n.tick();
    await sleep(30);
    expect(r.posts).toHaveLength(1); // not due yet

    clock.t = T0 + 60_000;
    n.tick();
    await r.waitFor((p) => p.length === 2);
    expect(r.posts[1]!.alerts[0]!.startsAt).toBe(iso(T0));
    expect(r.posts[1]!.alerts[0]!.endsAt).toBe(iso(T0 + 60_000 + 240_000));

    const resolvedAt = T0 + 90_000;
    clock.t = resolvedAt + 10; // the notifier takes resolvedAt from the alert, not its clock
    n.handle(alertChange('resolved', { firedAtMs: T0, resolvedAtMs: resolvedAt }));
    await r.waitFor((p) => p.length === 3);
    expect(r.posts[2]!.alerts[0]!.endsAt).toBe(iso(resolvedAt));
    expect(r.posts[2]!.alerts[0]!.startsAt).toBe(iso(T0));

    clock.t = resolvedAt + 10 + 60_000;
    n.tick();
    await r.waitFor((p) => p.length === 4);
    expect(r.posts[3]!.alerts[0]!.endsAt).toBe(iso(resolvedAt));
    expect(n.trackedCount).toBe(1);

    clock.t = resolvedAt + 15 * 60_000;
    n.tick();
    expect(n.trackedCount).toBe(0);
    clock.t += 10 * 60_000;
    n.tick();
    await sleep(30);
    expect(r.posts).toHaveLength(4);
  });

  it('never posts startsAt or endsAt later than its clock (the engine evaluates at grid instants ahead of it)', async () => {
    const r = await receiver();
    const clock = { t: T0 };
    const { n } = notifier([r.url], { clock });
    n.handle(alertChange('firing', { firedAtMs: T0 + 400, atMs: T0 + 400 }));
    await r.waitFor((p) => p.length === 1);
    clock.t = T0 + 5000;
    n.handle(alertChange('resolved', { firedAtMs: T0 + 400, resolvedAtMs: T0 + 5600, atMs: T0 + 5600 }));
    await r.waitFor((p) => p.length === 2);
    expect(r.posts[0]!.alerts[0]!.startsAt).toBe(iso(T0));
    expect(r.posts[1]!.alerts[0]!.startsAt).toBe(iso(T0));
    expect(r.posts[1]!.alerts[0]!.endsAt).toBe(iso(T0 + 5000));
  });

  it('forgets an alert on removed, and a resolved one that goes pending again', async () => {
    const r = await receiver();
    const clock = { t: T0 };
    const { n } = notifier([r.url], { clock, rules: { resendDelayMs: 1000 } });
    n.handle(alertChange('firing', { labels: { alertname: 'A', host: '1' } }));
    n.handle(alertChange('firing', { labels: { alertname: 'A', host: '2' } }));
    n.handle(alertChange('resolved', { labels: { alertname: 'A', host: '2' } }));
    expect(n.trackedCount).toBe(2);
    n.handle(alertChange('removed', { labels: { alertname: 'A', host: '1' } }));
    n.handle(alertChange('pending', { labels: { alertname: 'A', host: '2' } }));
    expect(n.trackedCount).toBe(0);
    await r.waitFor((p) => p.length >= 1);
    const before = r.posts.length;
    clock.t += 5000;
    n.tick();
    await sleep(30);
    expect(r.posts).toHaveLength(before);
  });

  it('a newer state supersedes a queued older one: no stale firing after its resolved', async () => {
    const r = await receiver();
    const { n } = notifier([r.url]);
    const release = r.hold();
    n.handle(alertChange('firing', { labels: { alertname: 'Blocker', host: 'x' } }));
    await r.waitFor((p) => p.length === 1); // in flight, held
    n.handle(alertChange('firing', { labels: { alertname: 'A', host: 'y' }, atMs: T0 - 2000 }));
    n.handle(alertChange('resolved', { labels: { alertname: 'A', host: 'y' }, atMs: T0 - 2000, resolvedAtMs: T0 - 1000 }));
    expect(n.queueLengths()[`${r.url}/api/v2/alerts`]).toBe(1);
    release();
    await r.waitFor((p) => p.length === 2);
    await sleep(30);
    expect(r.posts).toHaveLength(2);
    expect(r.posts[1]!.alerts).toHaveLength(1);
    expect(r.posts[1]!.alerts[0]!.labels.alertname).toBe('A');
    expect(r.posts[1]!.alerts[0]!.endsAt).toBe(iso(T0 - 1000));
  });

  it('drops the oldest queued alert when a replica queue is full, and counts it', async () => {
    const r = await receiver();
    const { n, registry } = notifier([r.url], { am: { queueCapacity: 2 } });
    const release = r.hold();
    n.handle(alertChange('firing', { labels: { alertname: 'X', host: '0' } }));
    await r.waitFor((p) => p.length === 1);
    for (const h of ['a', 'b', 'c']) n.handle(alertChange('firing', { labels: { alertname: 'X', host: h } }));
    const label = { alertmanager: `${r.url}/api/v2/alerts` };
    expect(await metricValue(registry, 'talos_alert_sidecar_alertmanager_queue_length', label)).toBe(2);
    expect(await metricValue(registry, 'talos_alert_sidecar_alertmanager_alerts_dropped_total', label)).toBe(1);
    release();
    await r.waitFor((p) => p.length === 2);
    expect(r.posts[1]!.alerts.map((a) => a.labels.host)).toEqual(['b', 'c']);
    await eventually(() => metricValue(registry, 'talos_alert_sidecar_alertmanager_alerts_sent_total', label), 3);
    expect(n.queueLengths()[label.alertmanager]).toBe(0);
  });

  it('retries a failed send with backoff until the replica accepts it', async () => {
    const r = await receiver();
    r.respond((i) => (i < 3 ? 503 : 200));
    const { n, registry, log } = notifier([r.url], { am: { minBackoffMs: 30, maxBackoffMs: 200 } });
    n.handle(alertChange('firing'));
    await r.waitFor((p) => p.some((x) => x.status === 200));
    expect(r.posts).toHaveLength(4);
    for (const p of r.posts) expect(p.alerts[0]!.labels.alertname).toBe('BTRFSCorruptionDetected');
    // each retry waited at least minBackoff
    for (let i = 1; i < r.posts.length; i++) expect(r.posts[i]!.atMs - r.posts[i - 1]!.atMs).toBeGreaterThanOrEqual(25);
    const label = { alertmanager: `${r.url}/api/v2/alerts` };
    await eventually(() => metricValue(registry, 'talos_alert_sidecar_alertmanager_alerts_sent_total', label), 1);
    expect(await metricValue(registry, 'talos_alert_sidecar_alertmanager_errors_total', label)).toBe(3);
    const msgs = log.records().map((x) => x.msg);
    expect(msgs.filter((m) => m === 'alertmanager send failed; retrying with backoff')).toHaveLength(1);
    expect(msgs).toContain('alertmanager reachable again');
  });

  it('times a hung request out after timeoutMs and retries it', async () => {
    const r = await receiver();
    const { n, registry, log } = notifier([r.url], { am: { timeoutMs: 150, minBackoffMs: 20, maxBackoffMs: 50 } });
    const release = r.hold();
    n.handle(alertChange('firing'));
    await r.waitFor(() => log.lines.some((l) => l.includes('timeout after 150ms')));
    release();
    await r.waitFor((p) => p.length >= 2 && p.some((x) => x.status === 200));
    const label = { alertmanager: `${r.url}/api/v2/alerts` };
    await eventually(() => metricValue(registry, 'talos_alert_sidecar_alertmanager_alerts_sent_total', label), 1);
    expect(await metricValue(registry, 'talos_alert_sidecar_alertmanager_errors_total', label)).toBeGreaterThanOrEqual(1);
  });

  it('drops a batch refused with a 4xx instead of blocking the queue', async () => {
    const r = await receiver();
    r.respond((i) => (i === 0 ? 400 : 200));
    const { n, registry } = notifier([r.url]);
    n.handle(alertChange('firing', { labels: { alertname: 'Bad', host: '1' } }));
    await r.waitFor((p) => p.length === 1 && p[0]!.status === 400);
    n.handle(alertChange('firing', { labels: { alertname: 'Good', host: '1' } }));
    await r.waitFor((p) => p.length === 2);
    await sleep(50);
    expect(r.posts.map((p) => p.alerts[0]!.labels.alertname)).toEqual(['Bad', 'Good']);
    const label = { alertmanager: `${r.url}/api/v2/alerts` };
    await eventually(() => metricValue(registry, 'talos_alert_sidecar_alertmanager_alerts_sent_total', label), 1);
    expect(await metricValue(registry, 'talos_alert_sidecar_alertmanager_alerts_dropped_total', label)).toBe(1);
  });

  it('sends every alert to every replica, independently of a failing one', async () => {
    const good = await receiver();
    const bad = await receiver();
    bad.respond(() => 500);
    const { n, registry } = notifier([good.url, bad.url], { am: { minBackoffMs: 50, maxBackoffMs: 50 } });
    n.handle(alertChange('firing', { labels: { alertname: 'A', host: '1' }, causeReceivedMs: Date.now() }));
    await good.waitFor((p) => p.length === 1);
    await bad.waitFor((p) => p.length >= 2);
    n.handle(alertChange('firing', { labels: { alertname: 'A', host: '2' } }));
    await good.waitFor((p) => p.length === 2); // not held up by the failing replica
    expect(good.posts[1]!.alerts[0]!.labels.host).toBe('2');
    bad.respond(() => 200);
    await bad.waitFor((p) => p.some((x) => x.status === 200 && x.alerts.length === 2));
    // latency observed once per change, at the first replica that accepted it
    const latencyCount = async () =>
      (await registry.getSingleMetric('talos_alert_sidecar_alert_notification_latency_seconds')!.get()).values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))?.value;
    await eventually(() => metricValue(registry, 'talos_alert_sidecar_alertmanager_alerts_sent_total', { alertmanager: `${bad.url}/api/v2/alerts` }), 2);
    expect(await latencyCount()).toBe(1);
  });

  it('without Alertmanager URLs logs the alert and keeps tracking it', async () => {
    const { n, log } = notifier([]);
    n.handle(alertChange('firing'));
    const rec = log.records().find((x) => x.msg === 'alert (not sent: no alertmanager configured)');
    expect(rec).toMatchObject({ level: 30, alertname: 'BTRFSCorruptionDetected', state: 'firing', labels: { host: '10.0.0.5' } });
    expect(n.tracked()).toMatchObject([{ state: 'firing', labels: { alertname: 'BTRFSCorruptionDetected' } }]);
  });

  it('never throws from handle(), even on a malformed change', async () => {
    const { n } = notifier([]);
    const broken = { kind: 'firing', rule: BTRFS_RULE, alert: { labels: null }, atMs: 0 } as unknown as Parameters<typeof n.handle>[0];
    expect(() => n.handle(broken)).not.toThrow();
    expect(n.handleErrors).toBe(1);
  });

  it('stop() flushes what is queued, and returns within its bound when the peer hangs', async () => {
    const r = await receiver();
    const { n } = notifier([r.url], { am: { timeoutMs: 300 } });
    n.handle(alertChange('firing'));
    await n.stop();
    expect(r.posts).toHaveLength(1);
    expect(r.posts[0]!.status).toBe(200);

    const hung = await receiver();
    hung.hold(); // never released
    const { n: n2 } = notifier([hung.url], { am: { timeoutMs: 300 } });
    n2.handle(alertChange('firing'));
    const t = performance.now();
    await n2.stop();
    expect(performance.now() - t).toBeLessThan(3000);
    n2.handle(alertChange('firing', { labels: { alertname: 'after-stop' } }));
    await sleep(30);
    expect(hung.posts).toHaveLength(1);
  });

  it('reuses its metrics when a second notifier shares the registry', () => {
    const registry = createRegistry({ processMetrics: false });
    notifier(['http://127.0.0.1:1'], { registry });
    expect(() => notifier(['http://127.0.0.1:2'], { registry })).not.toThrow();
  });
});
