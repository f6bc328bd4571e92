/**
 * Issue 16 part 4: caches keyed by label set must not keep what a
 * label-inventing sender made them hold, and must keep what is in use.
 */
import { describe, expect, it } from 'vitest';
import { TwoGenerationMap } from '../../src/lib/two-generation-map.js';
import { LabelSetCache } from '../../src/log-event.js';
import { TalosDecoder } from '../../src/talos/decode.js';

describe('TwoGenerationMap', () => {
  it('holds at most two generations and keeps the entries in use', () => {
    const m = new TwoGenerationMap<string, object>(100);
    const hot = {};
    m.set('hot', hot);
    for (let i = 0; i < 10_000; i++) {
      m.set(`k${i}`, {});
      if (i % 50 === 0) expect(m.get('hot')).toBe(hot);
      expect(m.size).toBeLessThanOrEqual(200);
    }
    expect(m.get('hot')).toBe(hot);
    expect(m.get('k0')).toBeUndefined();
  });
});

describe('label-set interning under a label-inventing sender', () => {
  it('keeps identity for streams in use and forgets one-off label sets', () => {
    const cache = new LabelSetCache(2_000);
    const honest = cache.intern({ job: 'talos-kernel', host: 'n1', talos_service: 'kubelet' });
    for (let i = 0; i < 100_000; i++) {
      cache.intern({ job: 'talos-kernel', host: 'n9', talos_service: `attack-${i}` });
      if (i % 500 === 0) expect(cache.intern({ job: 'talos-kernel', host: 'n1', talos_service: 'kubelet' })).toBe(honest);
    }
    expect(cache.size).toBeLessThanOrEqual(2_000);
  });

  it('the decoder\'s stream lookup stays bounded and returns the same stream for the same record', () => {
    const d = new TalosDecoder({ job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: false });
    const rec = (svc: string) => JSON.stringify({ msg: 'x', 'talos-service': svc, 'talos-level': 'info', 'talos-time': new Date().toISOString() });
    const first = d.decode(rec('kubelet'), '10.0.0.1', Date.now());
    for (let i = 0; i < 60_000; i++) {
      d.decode(rec(`attack-${i}`), '10.0.0.9', Date.now());
      if (i % 1000 === 0) expect((d.decode(rec('kubelet'), '10.0.0.1', Date.now()) as { stream: unknown }).stream).toBe((first as { stream: unknown }).stream);
    }
    expect(d.labelSets.size).toBeLessThanOrEqual(20_000);
  });
});
