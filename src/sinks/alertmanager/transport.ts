/**
 * HTTP(S) client for `POST <base>/api/v2/alerts`: auth headers, TLS, tenant,
 * keep-alive (a warm connection is most of "milliseconds after the line") and
 * a hard per-request timeout. Secrets live only in the prepared headers and
 * the TLS agent; nothing here puts them into an error message.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/schema.js';
import { responseExcerpt } from '../redact.js';

type AmConfig = Config['alertmanager'];

/** One Alertmanager replica as we talk to it. */
export interface Endpoint {
  /** Where alerts are posted (credentials removed). */
  readonly url: URL;
  /** The same URL without userinfo, query or fragment: the `alertmanager` metric label and log field. */
  readonly label: string;
  /** `Authorization` from `user:pass@` in the configured URL, when no other auth is configured. */
  readonly urlAuth: string | undefined;
}

/** Outcome of one POST. `retry`: transient (connection, timeout, 408, 429, 5xx); `reject`: the batch itself was refused. */
export type SendResult =
  | { readonly kind: 'ok'; readonly status: number }
  | { readonly kind: 'retry'; readonly status: number; readonly error: string }
  | { readonly kind: 'reject'; readonly status: number; readonly error: string };

const API_PATH = 'api/v2/alerts';
const MAX_ERROR_BODY = 512;
const USER_AGENT = 'talos-alert-sidecar';

/** `http://h:9093/am` → `http://h:9093/am/api/v2/alerts` (the path prefix is kept, as Prometheus does). */
export function endpointFor(base: string): Endpoint {
  const u = new URL(base);
  let urlAuth: string | undefined;
  if (u.username !== '' || u.password !== '') {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    urlAuth = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  u.pathname = u.pathname.endsWith('/') ? `${u.pathname}${API_PATH}` : `${u.pathname}/${API_PATH}`;
  u.hash = '';
  return { url: u, label: `${u.protocol}//${u.host}${u.pathname}`, urlAuth };
}

function readSecretFile(path: string, key: string): string {
  try {
    // Prometheus trims whitespace around file-held secrets (trailing newline from `echo`).
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The configured `Authorization` header value, or undefined. Throws ConfigError on conflicting settings. */
export function authorizationFor(cfg: AmConfig): string | undefined {
  const p = 'alertmanager';
  if (cfg.basicAuthPassword !== '' && cfg.basicAuthPasswordFile !== '') {
    throw new ConfigError(`${p}.basic_auth`, 'at most one of password and password_file may be set');
  }
  if (cfg.bearerToken !== '' && cfg.bearerTokenFile !== '') {
    throw new ConfigError(`${p}.bearer_token`, 'at most one of bearer_token and bearer_token_file may be set');
  }
  const basic = cfg.basicAuthUsername !== '' || cfg.basicAuthPassword !== '' || cfg.basicAuthPasswordFile !== '';
  const bearer = cfg.bearerToken !== '' || cfg.bearerTokenFile !== '';
  if (basic && bearer) throw new ConfigError(p, 'at most one of basic_auth and bearer_token may be set');
  if (basic) {
    const pass = cfg.basicAuthPasswordFile !== '' ? readSecretFile(cfg.basicAuthPasswordFile, `${p}.basic_auth.password_file`) : cfg.basicAuthPassword;
    return `Basic ${Buffer.from(`${cfg.basicAuthUsername}:${pass}`).toString('base64')}`;
  }
  if (bearer) {
    const token = cfg.bearerTokenFile !== '' ? readSecretFile(cfg.bearerTokenFile, `${p}.bearer_token_file`) : cfg.bearerToken;
    return `Bearer ${token}`;
  }
  return undefined;
}

export class HttpTransport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly baseHeaders: Readonly<Record<string, string>>;
  private readonly hasConfiguredAuth: boolean;

  /** Reads password/token/TLS files now (at start); throws ConfigError naming the setting. */
  constructor(private readonly cfg: AmConfig) {
    const auth = authorizationFor(cfg);
    this.hasConfiguredAuth = auth !== undefined;
    const h: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT };
    if (auth !== undefined) h.Authorization = auth;
    if (cfg.tenant !== '') h['X-Scope-OrgID'] = cfg.tenant;
    this.baseHeaders = h;

    const t = cfg.tls;
    if ((t.certFile === '') !== (t.keyFile === '')) {
      throw new ConfigError('alertmanager.tls', 'cert_file and key_file must be set together');
    }
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      ca: t.caFile !== '' ? readPem(t.caFile, 'alertmanager.tls.ca_file') : undefined,
      cert: t.certFile !== '' ? readPem(t.certFile, 'alertmanager.tls.cert_file') : undefined,
      key: t.keyFile !== '' ? readPem(t.keyFile, 'alertmanager.tls.key_file') : undefined,
      rejectUnauthorized: !t.insecureSkipVerify,
    });
  }

  /**
   * POST `body` to the endpoint. Never rejects. A keep-alive socket that the
   * server closed while idle (Alertmanager restarted) is retried once at once
   * on a fresh connection instead of costing a backoff.
   */
  async post(ep: Endpoint, body: string, signal: AbortSignal): Promise<SendResult> {
    const first = await this.once(ep, body, signal);
    if (first.stale) return (await this.once(ep, body, signal)).result;
    return first.result;
  }

  private once(ep: Endpoint, body: string, signal: AbortSignal): Promise<{ result: SendResult; stale: boolean }> {
    return new Promise((resolve) => {
      const u = ep.url;
      const isHttps = u.protocol === 'https:';
      const headers: Record<string, string | number> = { ...this.baseHeaders, 'Content-Length': Buffer.byteLength(body) };
      if (!this.hasConfiguredAuth && ep.urlAuth !== undefined) headers.Authorization = ep.urlAuth;
      let settled = false;
      const done = (result: SendResult, stale = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve({ result, stale });
      };
      const req = (isHttps ? https : http).request({
        protocol: u.protocol,
        hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
        port: u.port === '' ? undefined : Number(u.port),
        path: `${u.pathname}${u.search}`,
        method: 'POST',
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
      });
      const timer = setTimeout(() => req.destroy(new Error(`timeout after ${this.cfg.timeoutMs}ms`)), this.cfg.timeoutMs);
      const onAbort = (): void => {
        req.destroy(new Error('aborted (shutting down)'));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });

      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          res.resume();
          // The status is what counts; a body cut short afterwards does not undo it.
          const ok = (): void => done({ kind: 'ok', status });
          res.on('end', ok);
          res.on('error', ok);
          res.on('close', ok);
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < MAX_ERROR_BODY) text += chunk;
        });
        const finish = (): void => {
          // Scrubbed: a proxy or a misconfigured Alertmanager may echo our Authorization header back.
          const error = `HTTP ${status}${text !== '' ? `: ${responseExcerpt(text, MAX_ERROR_BODY)}` : ''}`;
          // 4xx means this batch will never be accepted as is (bad request, auth,
          // wrong path); retrying would block the queue. 408/429 are transient.
          const reject = status >= 400 && status < 500 && status !== 408 && status !== 429;
          done(reject ? { kind: 'reject', status, error } : { kind: 'retry', status, error });
        };
        res.on('end', finish);
        res.on('error', finish);
        res.on('close', finish);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && !signal.aborted && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        done({ kind: 'retry', status: 0, error: err.message }, stale);
      });
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
