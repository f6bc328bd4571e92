/**
 * The notifier against the real Alertmanager (Debian prometheus-alertmanager):
 * AlertChanges fed directly, results read back from GET /api/v2/alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { AlertmanagerNotifier } from '../../src/sinks/alertmanager/notifier.js';
import { alertChange, amConfig, BTRFS_RULE, captureLogger, rulesConfig } from '../helpers/alert-change.js';
import { startAlertmanager, type AlertmanagerInstance, type GettableAlert } from '../helpers/alertmanager.js';

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

function notifier(urls: string[], am: Partial<Config['alertmanager']> = {}, rules: Partial<Config['rules']> = {}) {
  const registry = createRegistry({ processMetrics: false });
  const log = captureLogger('info');
  const n = new AlertmanagerNotifier(amConfig(urls, am), rulesConfig(rules), { registry, logger: log.logger });
  n.start();
  stops.push(() => n.stop());
  return { n, registry, log };
}

/** Poll Alertmanager (bounded) until `accept` holds for the alerts matching `host`. */
async function waitAlerts(am: AlertmanagerInstance, host: string, accept: (a: GettableAlert[]) => boolean, timeoutMs = 10_000): Promise<GettableAlert[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (await am.alerts()).filter((a) => a.labels.host === host);
    if (accept(got)) return got;
    if (Date.now() > deadline) throw new Error(`alertmanager ${am.url}: condition not met within ${timeoutMs}ms; alerts for ${host}: ${JSON.stringify(got)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('notifier → real Alertmanager', () => {
  let am1: AlertmanagerInstance;
  let am2: AlertmanagerInstance;
  beforeAll(async () => {
    [am1, am2] = await Promise.all([startAlertmanager(), startAlertmanager()]);
    stops.push(() => am1.stop(), () => am2.stop());
  });

  it('a firing BTRFSCorruptionDetected alert appears with its labels, annotations, startsAt and generatorURL; its resolution removes it', async () => {
    const { n } = notifier([am1.url], {}, { externalUrl: 'https://grafana.example.com', externalLabels: { cluster: 'homelab' }, resendDelayMs: 60_000 });
    const firedAt = Date.now() - 2000;
    const labels = { alertname: 'BTRFSCorruptionDetected', host: '10.0.0.5', job: 'talos-kernel', severity: 'critical' };
    n.handle(alertChange('firing', { labels, firedAtMs: firedAt }));
    const [a] = await waitAlerts(am1, '10.0.0.5', (x) => x.length === 1);
    expect(a!.labels).toEqual({ ...labels, cluster: 'homelab' });
    expect(a!.annotations).toEqual({ summary: 'BTRFS corruption on 10.0.0.5', description: 'csum failed ino 257' });
    expect(a!.startsAt).toBe(new Date(firedAt).toISOString());
    expect(a!.status.state).toBe('active');
    expect(a!.receivers.map((r) => r.name)).toEqual(['null']);
    // endsAt = send time + 4 × resend delay
    const endsIn = Date.parse(a!.endsAt) - Date.now();
    expect(endsIn).toBeGreaterThan(4 * 60_000 - 10_000);
    expect(endsIn).toBeLessThanOrEqual(4 * 60_000);
    expect(JSON.parse(new URL(a!.generatorURL!).searchParams.get('left')!).queries[0].expr).toBe(BTRFS_RULE.expr);

    // resolvedAt a little ahead of the clock, as the engine's grid instants can be: still resolves.
    const resolvedAt = Date.now() + 500;
    n.handle(alertChange('resolved', { labels, firedAtMs: firedAt, resolvedAtMs: resolvedAt }));
    // Alertmanager leaves out alerts whose endsAt has passed: gone, although the firing endsAt was minutes away.
    await waitAlerts(am1, '10.0.0.5', (x) => x.length === 0, 5000);
  });

  it('two Alertmanager replicas both receive the alert', async () => {
    const { n } = notifier([am1.url, am2.url]);
    n.handle(alertChange('firing', { labels: { alertname: 'BTRFSCorruptionDetected', host: 'replicas' } }));
    const [x, y] = await Promise.all([waitAlerts(am1, 'replicas', (a) => a.length === 1), waitAlerts(am2, 'replicas', (a) => a.length === 1)]);
    expect(x[0]!.fingerprint).toBe(y[0]!.fingerprint);
  });

  it('works with a path-prefixed Alertmanager (--web.route-prefix=/am)', async () => {
    const am = await startAlertmanager({ routePrefix: '/am' });
    stops.push(() => am.stop());
    expect(am.url.endsWith('/am')).toBe(true);
    const { n } = notifier([am.url]);
    n.handle(alertChange('firing', { labels: { alertname: 'BTRFSCorruptionDetected', host: 'prefixed' } }));
    await waitAlerts(am, 'prefixed', (a) => a.length === 1);
  });

  it('delivers an alert fired while Alertmanager is down as soon as it is back, via retry backoff, long before the resend interval', async () => {
    const am = await startAlertmanager();
    stops.push(() => am.stop());
    const { n, registry } = notifier([am.url], { minBackoffMs: 100, maxBackoffMs: 1000 }, { resendDelayMs: 10 * 60_000 });
    // Warm the keep-alive connection first, so the restart also exercises a dead pooled socket.
    n.handle(alertChange('firing', { labels: { alertname: 'Warmup', host: 'warm' } }));
    await waitAlerts(am, 'warm', (a) => a.length === 1);

    await am.down();
    n.handle(alertChange('firing', { labels: { alertname: 'BTRFSCorruptionDetected', host: 'outage' } }));
    await new Promise((r) => setTimeout(r, 1500)); // several failed attempts
    const errors = (await registry.getSingleMetric('talos_alert_sidecar_alertmanager_errors_total')!.get()).values[0]!.value;
    expect(errors).toBeGreaterThanOrEqual(2);

    await am.up();
    const back = Date.now();
    const [a] = await waitAlerts(am, 'outage', (x) => x.length === 1, 15_000);
    const delay = Date.now() - back;
    expect(a!.labels.alertname).toBe('BTRFSCorruptionDetected');
    // Bounded by the max backoff (1 s) plus polling, not by the 10-minute resend delay.
    expect(delay).toBeLessThan(5000);
  });
});
