/** Process-level metrics: build_info and the event-loop delay from prom-client's default collectors. */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildInfo, registerBuildInfo } from '../../src/metrics/build-info.js';
import { createRegistry } from '../../src/metrics/registry.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('talos_alert_sidecar_build_info', () => {
  it('is 1, labelled with the package version and the Node.js version, on every registry', async () => {
    const text = await createRegistry({ processMetrics: false }).metrics();
    expect(text).toContain('# TYPE talos_alert_sidecar_build_info gauge');
    expect(text).toContain(`talos_alert_sidecar_build_info{version="${VERSION}",node_version="${process.version}"} 1`);
  });

  it('has a revision label only when the build sets one', async () => {
    expect(buildInfo({})).toEqual({ version: VERSION, node_version: process.version });
    expect(buildInfo({ TALOS_ALERT_SIDECAR_REVISION: ' ' })).not.toHaveProperty('revision');
    const r = new Registry();
    registerBuildInfo(r, buildInfo({ TALOS_ALERT_SIDECAR_REVISION: '6d05772' }));
    expect(await r.metrics()).toContain(`talos_alert_sidecar_build_info{version="${VERSION}",node_version="${process.version}",revision="6d05772"} 1`);
  });
});

describe('event-loop delay', () => {
  it('comes from prom-client (nodejs_eventloop_lag_*); the sidecar no longer exports its own gauges', async () => {
    const registry = createRegistry();
    const metrics = await registry.getMetricsAsJSON();
    const names = metrics.map((m) => m.name);
    for (const n of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_max_seconds', 'nodejs_eventloop_lag_p99_seconds']) expect(names).toContain(n);
    expect(names.filter((n) => n.startsWith('talos_alert_sidecar_event_loop'))).toEqual([]);
    const max = metrics.find((m) => m.name === 'nodejs_eventloop_lag_max_seconds')!.values[0]!.value;
    expect(Number.isFinite(max) && max >= 0).toBe(true);
  });
});
