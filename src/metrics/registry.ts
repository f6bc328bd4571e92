/**
 * One registry for the process. Metrics are declared next to what they measure
 * (each module takes the Registry and registers its own), all under one prefix.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerBuildInfo } from './build-info.js';

export const METRIC_PREFIX = 'talos_alert_sidecar_';

export function createRegistry(opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registerBuildInfo(registry);
  if (opts.processMetrics !== false) {
    // Includes event-loop delay (nodejs_eventloop_lag_seconds and its
    // _min/_max/_mean/_stddev/_p50/_p90/_p99 companions from perf_hooks).
    collectDefaultMetrics({ register: registry });
    // Gauges named *_total break Prometheus naming rules (promtool check metrics);
    // the same values stay available without the suffix (nodejs_active_handles …).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      registry.removeSingleMetric(name);
    }
  }
  return registry;
}

export type { Registry } from 'prom-client';
