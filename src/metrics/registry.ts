/**
 * One registry for the process. Metrics are declared next to what they measure
 * (each module takes the Registry and registers its own), all under one prefix.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'talos_alert_sidecar_';

export function createRegistry(opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

export type { Registry } from 'prom-client';
