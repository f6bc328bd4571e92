/**
 * Metrics of the Alertmanager notifier (names follow Prometheus's
 * `prometheus_notifications_*`, under our prefix). The `alertmanager` label is
 * the endpoint URL without credentials.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../metrics/registry.js';

export interface AlertmanagerMetrics {
  readonly sent: Counter<'alertmanager'>;
  readonly errors: Counter<'alertmanager'>;
  readonly dropped: Counter<'alertmanager'>;
  readonly queueLength: Gauge<'alertmanager'>;
  readonly requestDuration: Histogram<'alertmanager'>;
  readonly notificationLatency: Histogram<string>;
}

/** Sub-millisecond to minutes: the product promises milliseconds, an outage costs the backoff. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Reuse a metric already in the registry (a second notifier after a reload) instead of failing on the duplicate name. */
function once<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

export function alertmanagerMetrics(registry: Registry): AlertmanagerMetrics {
  const p = `${METRIC_PREFIX}alertmanager_`;
  const labelNames = ['alertmanager'] as const;
  const registers = [registry];
  return {
    sent: once(registry, `${p}alerts_sent_total`, () =>
      new Counter({ name: `${p}alerts_sent_total`, help: 'Alerts delivered to an Alertmanager (2xx), by replica.', labelNames, registers }),
    ),
    errors: once(registry, `${p}errors_total`, () =>
      new Counter({ name: `${p}errors_total`, help: 'Failed POSTs to an Alertmanager (connection, timeout, non-2xx), by replica.', labelNames, registers }),
    ),
    dropped: once(registry, `${p}alerts_dropped_total`, () =>
      new Counter({
        name: `${p}alerts_dropped_total`,
        help: 'Alerts given up for a replica: oldest dropped from a full queue, or refused with a non-retryable 4xx.',
        labelNames,
        registers,
      }),
    ),
    queueLength: once(registry, `${p}queue_length`, () =>
      new Gauge({ name: `${p}queue_length`, help: 'Alerts waiting to be sent to a replica (excluding the batch in flight).', labelNames, registers }),
    ),
    requestDuration: once(registry, `${p}request_duration_seconds`, () =>
      new Histogram({
        name: `${p}request_duration_seconds`,
        help: 'Duration of POST /api/v2/alerts requests, by replica.',
        labelNames,
        buckets: REQUEST_BUCKETS,
        registers,
      }),
    ),
    notificationLatency: once(registry, `${METRIC_PREFIX}alert_notification_latency_seconds`, () =>
      new Histogram({
        name: `${METRIC_PREFIX}alert_notification_latency_seconds`,
        help: 'From the arrival of the log line that changed an alert (firing/resolved) to the first Alertmanager accepting it.',
        buckets: LATENCY_BUCKETS,
        registers,
      }),
    ),
  };
}
