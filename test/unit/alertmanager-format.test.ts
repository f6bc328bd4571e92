import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/sinks/backoff.js';
import { goQueryEscape, lokiExploreLink } from '../../src/sinks/alertmanager/generator-url.js';
import { firingEndsAt, rfc3339, withExternalLabels } from '../../src/sinks/alertmanager/payload.js';
import { endpointFor } from '../../src/sinks/alertmanager/transport.js';

describe('generatorURL (Loki grafanaLinkForExpression)', () => {
  it('builds the Explore link byte-for-byte as Go encoding/json + url.Values.Encode would', () => {
    // Expected strings computed independently (Python json + quote_plus, with Go's HTML escaping of > and &).
    expect(lokiExploreLink('https://grafana.example.com', 'count_over_time({job="talos-kernel"} |= "BTRFS" [5m]) > 0')).toBe(
      'https://grafana.example.com/explore?left=%7B%22queries%22%3A%5B%7B%22expr%22%3A%22count_over_time%28%7Bjob%3D%5C%22talos-kernel%5C%22%7D+%7C%3D+%5C%22BTRFS%5C%22+%5B5m%5D%29+%5Cu003e+0%22%2C%22queryType%22%3A%22range%22%7D%5D%7D',
    );
    expect(lokiExploreLink('http://g', `sum by (host) (count_over_time({job="talos-kernel"} |~ "(?i)i/o error" [5m])) >= 1 & *!'~`)).toBe(
      'http://g/explore?left=%7B%22queries%22%3A%5B%7B%22expr%22%3A%22sum+by+%28host%29+%28count_over_time%28%7Bjob%3D%5C%22talos-kernel%5C%22%7D+%7C~+%5C%22%28%3Fi%29i%2Fo+error%5C%22+%5B5m%5D%29%29+%5Cu003e%3D+1+%5Cu0026+%2A%21%27~%22%2C%22queryType%22%3A%22range%22%7D%5D%7D',
    );
  });

  it('round-trips to the expression and drops a trailing slash of the base', () => {
    const expr = 'count_over_time({job="talos-kernel"} |~ "(?i)btrfs.*(corrupt|csum)" [5m]) > 0';
    const link = lokiExploreLink('https://grafana.example.com/', expr, 'loki-uid');
    expect(link.startsWith('https://grafana.example.com/explore?left=')).toBe(true);
    const left = new URL(link).searchParams.get('left')!;
    expect(JSON.parse(left)).toEqual({ queries: [{ expr, queryType: 'range', datasource: { type: 'loki', uid: 'loki-uid' } }] });
  });

  it('escapes like Go url.QueryEscape', () => {
    expect(goQueryEscape("a b!'()*~-_.")).toBe('a+b%21%27%28%29%2A~-_.');
  });
});

describe('payload pieces', () => {
  it('formats RFC 3339 UTC with milliseconds', () => {
    expect(rfc3339(Date.UTC(2024, 4, 1, 12, 0, 0, 7))).toBe('2024-05-01T12:00:00.007Z');
  });

  it('adds external labels only where the alert lacks them', () => {
    const ext = { cluster: 'prod', host: 'ext' };
    expect(withExternalLabels({ alertname: 'A', host: 'n1' }, ext, Object.keys(ext))).toEqual({ alertname: 'A', host: 'n1', cluster: 'prod' });
  });

  it('declares firing alerts valid for 4 × max(tick, resendDelay)', () => {
    expect(firingEndsAt(1000, 1000, 60_000)).toBe(1000 + 240_000);
    expect(firingEndsAt(0, 5000, 1000)).toBe(20_000);
  });
});

describe('endpointFor', () => {
  it('keeps a path prefix, strips credentials from URL and label', () => {
    const ep = endpointFor('http://user:s3cr%40t@h:9093/am');
    expect(ep.url.href).toBe('http://h:9093/am/api/v2/alerts');
    expect(ep.label).toBe('http://h:9093/am/api/v2/alerts');
    expect(ep.urlAuth).toBe(`Basic ${Buffer.from('user:s3cr@t').toString('base64')}`);
    expect(endpointFor('https://am.example/').url.href).toBe('https://am.example/api/v2/alerts');
    expect(endpointFor('http://[::1]:9093').label).toBe('http://[::1]:9093/api/v2/alerts');
  });
});

describe('Backoff', () => {
  it('doubles from min to max, jittered within [min·2ⁿ, min·2ⁿ⁺¹), and resets', () => {
    const lo = new Backoff(100, 1000, () => 0);
    expect([lo.next(), lo.next(), lo.next(), lo.next(), lo.next()]).toEqual([100, 200, 400, 800, 1000]);
    const hi = new Backoff(100, 1000, () => 1);
    expect([hi.next(), hi.next(), hi.next(), hi.next(), hi.next()]).toEqual([200, 400, 800, 1000, 1000]);
    expect(hi.failures).toBe(5);
    hi.reset();
    expect(hi.failures).toBe(0);
    expect(hi.next()).toBe(200);
  });

  it('never leaves [min, max] whatever the randomness', () => {
    const b = new Backoff(50, 300);
    for (let i = 0; i < 200; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(50);
      expect(d).toBeLessThanOrEqual(300);
    }
  });
});
