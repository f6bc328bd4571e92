import { describe, expect, it } from 'vitest';
import { applyDocument, ConfigError, defaultConfig } from '../../src/config/schema.js';

describe('Loki config keys', () => {
  it('loki.structured_metadata takes auto (the default), true or false', () => {
    expect(defaultConfig().loki.structuredMetadata).toBe('auto');
    for (const [raw, want] of [[true, true], [false, false], ['true', true], ['false', false], ['auto', 'auto']] as const) {
      const cfg = defaultConfig();
      applyDocument(cfg, { loki: { structured_metadata: raw } });
      expect(cfg.loki.structuredMetadata).toBe(want);
    }
    expect(() => applyDocument(defaultConfig(), { loki: { structured_metadata: 'sometimes' } })).toThrow(ConfigError);
  });

  it('loki.retry_max_time is a duration, 1h by default', () => {
    expect(defaultConfig().loki.retryMaxTimeMs).toBe(3_600_000);
    const cfg = defaultConfig();
    applyDocument(cfg, { loki: { retry_max_time: '90s' } });
    expect(cfg.loki.retryMaxTimeMs).toBe(90_000);
  });
});
