/**
 * `talos_alert_sidecar_build_info{version, node_version, revision} 1`, the
 * Prometheus convention (`prometheus_build_info`, `loki_build_info`): join
 * it onto any series to see which build produced it. `revision` comes from
 * TALOS_ALERT_SIDECAR_REVISION (the image build sets it) and is left out
 * when unknown.
 */
import { createRequire } from 'node:module';
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './registry.js';

export interface BuildInfo {
  version: string;
  node_version: string;
  revision?: string;
}

export function buildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  // src/metrics/ and dist/metrics/ both sit two levels below package.json.
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  const revision = env.TALOS_ALERT_SIDECAR_REVISION?.trim();
  return { version: pkg.version, node_version: process.version, ...(revision ? { revision } : {}) };
}

export function registerBuildInfo(registry: Registry, info: BuildInfo = buildInfo()): void {
  const labels: Record<string, string> = { ...info };
  new Gauge({
    name: `${METRIC_PREFIX}build_info`,
    help: 'A metric with a constant 1 value labelled by the version, Node.js version and source revision of this build.',
    labelNames: Object.keys(labels),
    registers: [registry],
  }).set(labels, 1);
}
