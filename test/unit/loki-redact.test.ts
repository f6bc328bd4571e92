import { describe, expect, it } from 'vitest';
import { redactUrl, responseExcerpt, scrubSecrets } from '../../src/sinks/redact.js';

describe('credential scrubbing (sinks/redact)', () => {
  it('hides userinfo in every URL form, @ in the password included', () => {
    expect(redactUrl('http://user:pw@loki:3100/x')).toBe('http://<redacted>@loki:3100/x');
    expect(redactUrl('https://user:p@ss@w0rd@loki.example:443/')).toBe('https://<redacted>@loki.example:443/');
    expect(redactUrl('user:pw@loki:3100')).toBe('<redacted>@loki:3100');
    expect(redactUrl('user:p@ss@loki:3100/push')).toBe('<redacted>@loki:3100/push');
    expect(redactUrl('url "user:s3cret@10.0.0.1:3100" bad')).toBe('url "<redacted>@10.0.0.1:3100" bad');
    expect(redactUrl('http://loki:3100/push?tenant=a&token=abc123&x=1')).toBe('http://loki:3100/push?tenant=a&token=<redacted>&x=1');
    expect(redactUrl('http://am/?api_key=k&sig=zz')).toBe('http://am/?api_key=<redacted>&sig=<redacted>');
    // Nothing to hide: unchanged (a time of day is not userinfo).
    expect(redactUrl('http://loki:3100/loki/api/v1/push')).toBe('http://loki:3100/loki/api/v1/push');
    expect(redactUrl('at 12:01:03 host')).toBe('at 12:01:03 host');
  });

  it('removes echoed Authorization headers and bare credentials from response bodies', () => {
    const echo = 'bad request; headers: Authorization: Basic dXNlcjpzZWNyZXQ=\nUser-Agent: talos-alert-sidecar';
    expect(scrubSecrets(echo)).not.toContain('dXNlcjpzZWNyZXQ=');
    expect(scrubSecrets(echo)).toContain('User-Agent: talos-alert-sidecar');
    const json = '{"error":"denied","request":{"headers":{"Authorization":["Bearer eyJhbGciOi.abc.def"]}}}';
    expect(scrubSecrets(json)).not.toContain('eyJhbGciOi');
    expect(scrubSecrets('token Bearer abcdefghijkl rejected')).toBe('token Bearer <redacted> rejected');
    expect(scrubSecrets('upstream http://u:pw@gw/x failed')).toBe('upstream http://<redacted>@gw/x failed');
  });

  it('truncates after scrubbing', () => {
    const body = `${'x'.repeat(10)} Authorization: Bearer ${'s'.repeat(50)}`;
    const out = responseExcerpt(body, 30);
    expect(out).not.toContain('sss');
    expect(out).toMatch(/more chars\)$/);
    expect(responseExcerpt('  short \n', 30)).toBe('short');
  });
});
