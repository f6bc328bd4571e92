/**
 * Auth, tenant, path prefix and TLS of the Alertmanager client, checked at a
 * recording 127.0.0.1 peer (Alertmanager itself has no auth without a web
 * config). Secrets must not appear in logs or metrics.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type Config } from '../../src/config/schema.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { AlertmanagerNotifier } from '../../src/sinks/alertmanager/notifier.js';
import { alertChange, amConfig, captureLogger, rulesConfig } from '../helpers/alert-change.js';
import { startAlertReceiver, type AlertReceiver, type AlertReceiverOptions } from '../helpers/alertmanager.js';

const SECRET = 'pa55-Wörd:with@chars';
const TOKEN = 'tok-0123456789abcdef';

let dir: string;
let cleanup: (() => Promise<void>)[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'talos-am-transport-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function receiver(opts?: AlertReceiverOptions): Promise<AlertReceiver> {
  const r = await startAlertReceiver(opts);
  cleanup.push(() => r.close());
  return r;
}

function notifier(urls: string[], am: Partial<Config['alertmanager']>) {
  const registry = createRegistry({ processMetrics: false });
  const log = captureLogger('trace');
  const n = new AlertmanagerNotifier(amConfig(urls, am), rulesConfig(), { registry, logger: log.logger });
  cleanup.push(() => n.stop());
  return { n, registry, log };
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('Alertmanager client auth and headers', () => {
  it('sends basic auth (password), tenant header, and honours a path prefix', async () => {
    const r = await receiver();
    const { n } = notifier([`${r.url}/am/`], { basicAuthUsername: 'sidecar', basicAuthPassword: SECRET, tenant: 'team-a' });
    n.handle(alertChange('firing'));
    const [p] = await r.waitFor((x) => x.length === 1);
    expect(p!.path).toBe('/am/api/v2/alerts');
    expect(p!.headers.authorization).toBe(basic('sidecar', SECRET));
    expect(p!.headers['x-scope-orgid']).toBe('team-a');
  });

  it('reads the basic-auth password and the bearer token from files (trimmed)', async () => {
    const pw = join(dir, 'pw');
    writeFileSync(pw, `${SECRET}\n`);
    const tok = join(dir, 'token');
    writeFileSync(tok, `${TOKEN}\n`);
    const r = await receiver();
    const a = notifier([r.url], { basicAuthUsername: 'u', basicAuthPasswordFile: pw });
    const b = notifier([r.url], { bearerTokenFile: tok });
    const c = notifier([r.url], { bearerToken: TOKEN });
    a.n.handle(alertChange('firing'));
    await r.waitFor((x) => x.length === 1);
    b.n.handle(alertChange('firing'));
    await r.waitFor((x) => x.length === 2);
    c.n.handle(alertChange('firing'));
    await r.waitFor((x) => x.length === 3);
    expect(r.posts.map((p) => p.headers.authorization)).toEqual([basic('u', SECRET), `Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    expect(r.posts[0]!.headers['x-scope-orgid']).toBeUndefined();
  });

  it('uses user:password from the URL when no auth is configured, and never shows it', async () => {
    const r = await receiver();
    r.respond((i) => (i === 0 ? 503 : 200));
    const url = r.url.replace('http://', `http://admin:${encodeURIComponent(SECRET)}@`);
    const { n, registry, log } = notifier([url], {});
    n.handle(alertChange('firing'));
    await r.waitFor((x) => x.some((p) => p.status === 200));
    expect(r.posts[0]!.headers.authorization).toBe(basic('admin', SECRET));
    expect(n.alertmanagers).toEqual([`${r.url}/api/v2/alerts`]);
    await n.stop();
    const exposed = `${await registry.metrics()}\n${log.lines.join('\n')}`;
    expect(log.lines.some((l) => l.includes('retrying with backoff'))).toBe(true);
    for (const s of [SECRET, encodeURIComponent(SECRET), Buffer.from(`admin:${SECRET}`).toString('base64')]) expect(exposed).not.toContain(s);
  });

  it('keeps secrets out of logs, errors and metrics when the peer fails', async () => {
    const r = await receiver();
    r.respond(() => 401);
    const { n, registry, log } = notifier([r.url], { basicAuthUsername: 'u', basicAuthPassword: SECRET });
    const t = notifier([r.url], { bearerToken: TOKEN });
    n.handle(alertChange('firing'));
    t.n.handle(alertChange('firing'));
    await r.waitFor((x) => x.length === 2);
    await n.stop();
    await t.n.stop();
    const all = [await registry.metrics(), await t.registry.metrics(), ...log.lines, ...t.log.lines].join('\n');
    expect(all).toContain('alertmanager refused alerts');
    for (const s of [SECRET, TOKEN, Buffer.from(`u:${SECRET}`).toString('base64')]) expect(all).not.toContain(s);
  });

  it('rejects conflicting auth settings and unreadable files with a ConfigError naming the key', () => {
    const mk = (am: Partial<Config['alertmanager']>) => () =>
      new AlertmanagerNotifier(amConfig(['http://127.0.0.1:1'], am), rulesConfig(), { registry: createRegistry({ processMetrics: false }), logger: captureLogger().logger });
    expect(mk({ basicAuthUsername: 'u', bearerToken: 't' })).toThrow(ConfigError);
    expect(mk({ bearerToken: 't', bearerTokenFile: '/x' })).toThrow(/bearer_token/);
    expect(mk({ basicAuthUsername: 'u', basicAuthPasswordFile: join(dir, 'missing') })).toThrow(/password_file.*ENOENT/);
    expect(mk({ tls: { caFile: '', certFile: join(dir, 'c'), keyFile: '', insecureSkipVerify: false } })).toThrow(/cert_file and key_file/);
  });
});

describe('Alertmanager client TLS', () => {
  let cert: string;
  let key: string;
  let certFile: string;
  let keyFile: string;
  beforeAll(() => {
    keyFile = join(dir, 'key.pem');
    certFile = join(dir, 'cert.pem');
    // One self-signed cert for 127.0.0.1, usable as server cert, client cert and CA.
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    ], { stdio: 'ignore' });
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
  });

  const tls = (o: Partial<Config['alertmanager']['tls']>): Config['alertmanager']['tls'] => ({ caFile: '', certFile: '', keyFile: '', insecureSkipVerify: false, ...o });

  it('verifies the server with the configured CA; an unknown CA is an error, insecure_skip_verify accepts it', async () => {
    const r = await receiver({ tls: { key, cert } });
    const ok = notifier([r.url], { tls: tls({ caFile: certFile }) });
    ok.n.handle(alertChange('firing'));
    await r.waitFor((x) => x.length === 1);

    const untrusted = notifier([r.url], { minBackoffMs: 1000, maxBackoffMs: 1000 });
    untrusted.n.handle(alertChange('firing'));
    await r.waitFor(() => untrusted.log.lines.some((l) => l.includes('retrying with backoff')));
    expect(r.posts).toHaveLength(1);
    const rec = untrusted.log.records().find((x) => x.msg === 'alertmanager send failed; retrying with backoff');
    expect(String(rec?.err)).toMatch(/self[- ]signed|certificate/i);

    const skip = notifier([r.url], { tls: tls({ insecureSkipVerify: true }) });
    skip.n.handle(alertChange('firing'));
    await r.waitFor((x) => x.length === 2);
  });

  it('presents a client certificate when the server requires one', async () => {
    const r = await receiver({ tls: { key, cert, clientCa: cert } });
    const without = notifier([r.url], { tls: tls({ caFile: certFile }), minBackoffMs: 1000, maxBackoffMs: 1000 });
    without.n.handle(alertChange('firing'));
    await r.waitFor(() => without.log.lines.some((l) => l.includes('retrying with backoff')));
    expect(r.posts).toHaveLength(0);

    const withCert = notifier([r.url], { tls: tls({ caFile: certFile, certFile, keyFile }) });
    withCert.n.handle(alertChange('firing'));
    await r.waitFor((x) => x.length === 1);
    expect(r.posts[0]!.status).toBe(200);
  });
});
