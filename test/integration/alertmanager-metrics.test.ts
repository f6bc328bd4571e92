/**
 * The notifier's metrics as a real Prometheus sees them: exposition passes
 * `promtool check metrics`, and a scrape shows the deliveries to a real
 * Alertmanager and the notification latency histogram.
 */
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/metrics/registry.js';
import { AlertmanagerNotifier } from '../../src/sinks/alertmanager/notifier.js';
import { alertChange, amConfig, captureLogger, rulesConfig } from '../helpers/alert-change.js';
import { startAlertmanager } from '../helpers/alertmanager.js';
import { promtoolCheckMetrics, startPrometheus } from '../helpers/prometheus.js';

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

describe('Alertmanager notifier metrics', () => {
  it('are valid exposition and are scraped by Prometheus with the delivered alerts counted', async () => {
    const am = await startAlertmanager();
    stops.push(() => am.stop());
    const registry = createRegistry({ processMetrics: false });
    const n = new AlertmanagerNotifier(amConfig([am.url]), rulesConfig(), { registry, logger: captureLogger('warn').logger });
    stops.push(() => n.stop());
    for (let i = 0; i < 3; i++) {
      n.handle(alertChange('firing', { labels: { alertname: 'BTRFSCorruptionDetected', host: `m${i}` }, causeReceivedMs: Date.now() }));
    }
    // Wait (bounded) for the deliveries to be counted.
    const deadline = Date.now() + 10_000;
    const sent = async () => (await registry.getSingleMetric('talos_alert_sidecar_alertmanager_alerts_sent_total')!.get()).values[0]?.value ?? 0;
    while ((await sent()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await sent()).toBe(3);

    const text = await registry.metrics();
    const lint = await promtoolCheckMetrics(text);
    expect(lint.output).toBe('');
    expect(lint.ok).toBe(true);
    // promtool does find real problems (so the check above means something):
    expect((await promtoolCheckMetrics('# TYPE foo counter\nfoo 1\n')).ok).toBe(false);

    const server = http.createServer((_req, res) => {
      void registry.metrics().then((body) => {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    stops.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;

    const prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], scrapeInterval: '1s' });
    stops.push(() => prom.stop());
    const label = `${am.url}/api/v2/alerts`;
    const r = await prom.waitFor('talos_alert_sidecar_alertmanager_alerts_sent_total', (v) => v.length === 1, 20_000);
    expect(r[0]!.metric.alertmanager).toBe(label);
    expect(Number(r[0]!.value[1])).toBe(3);
    const lat = await prom.query('talos_alert_sidecar_alert_notification_latency_seconds_count');
    expect(Number(lat[0]!.value[1])).toBe(3);
    const targets = await prom.targets();
    expect(targets.map((t) => t.health)).toEqual(['up']);
  });
});
