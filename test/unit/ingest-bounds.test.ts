import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EventBus } from '../../src/bus.js';
import { TalosDecoder } from '../../src/talos/decode.js';
import { IngestPipeline } from '../../src/talos/ingest.js';
import { createRegistry } from '../../src/metrics/registry.js';

describe('ingest counters under label-value abuse', () => {
  it('stay exact and bounded when a sender invents 30 000 service names', async () => {
    const registry = createRegistry({ processMetrics: false });
    const decoder = new TalosDecoder({ job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: false });
    const pipeline = new IngestPipeline(decoder, new EventBus(), pino({ level: 'silent' }), registry);
    for (let i = 0; i < 30_000; i++) pipeline.record(`{"msg":"x","talos-service":"svc-${i}","talos-time":"2026-01-01T00:00:00Z"}`, '10.0.0.9', 'tcp', 0);
    expect(pipeline.linesByHost().get('10.0.0.9/service')).toBe(30_000);
    // Internal maps stop growing at their bounds; the metric has only host and stream labels.
    expect((pipeline as unknown as { perStream: Map<unknown, unknown> }).perStream.size).toBeLessThanOrEqual(10_000);
    const text = await registry.metrics();
    expect(text).toContain('talos_alert_sidecar_lines_received_total{host="10.0.0.9",stream="service"} 30000');
  });
});
