/** Recording rules become gauges on /metrics; `--unsupported-rules=skip` loads the rest of a shared ConfigMap. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/app.js';
import { kernelRecord, sendLines, startTestSidecar, until } from '../helpers/sidecar.js';

let sidecar: Sidecar | undefined;
afterEach(async () => {
  await sidecar?.close();
  sidecar = undefined;
});

const RULES = `groups:
  - name: recorded
    rules:
      - record: talos:kernel_errors:count5m
        expr: sum by (host) (count_over_time({job="talos-kernel", level="error"}[5m]))
        labels: { source: talos }
      - alert: UsesOffset
        expr: sum(count_over_time({job="talos-kernel"} |= "error" [5m] offset -1h)) > 0
`;

describe('recording rules and unsupported LogQL', () => {
  it('exposes recording rule results as gauges and skips unsupported rules in skip mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-rec-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    sidecar = await startTestSidecar((c) => {
      c.rules.paths = [join(dir, 'rules.yaml')];
      c.rules.unsupported = 'skip';
    });
    expect(sidecar.engine.loadedRules().map((r) => r.def.name)).toEqual(['talos:kernel_errors:count5m']);
    await sendLines(sidecar.ingest.tcpPort, [kernelRecord('first error'), kernelRecord('second error')]);
    const metrics = await until(
      async () => (await sidecar!.http.inject({ method: 'GET', url: '/metrics' })).body,
      (body) => /talos:kernel_errors:count5m\{host="127\.0\.0\.1",source="talos"\} 2/.test(body),
    );
    expect(metrics).toContain('# TYPE talos:kernel_errors:count5m gauge');
  });

  it('refuses to start in error mode, naming file, group, rule and what is unsupported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-rec-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    await expect(
      startTestSidecar((c) => {
        c.rules.paths = [join(dir, 'rules.yaml')];
      }),
    ).rejects.toThrow(/rules\.yaml:\d+:\d+: group "recorded": rule "UsesOffset": .*offset/i);
  });
});
