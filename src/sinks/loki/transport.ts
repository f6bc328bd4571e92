/**
 * One push request to Loki over node:http/https with a keep-alive agent
 * (custom CA, client certificate, basic or bearer auth, tenant header), a
 * hard per-request deadline, and the response classified the way Loki's own
 * clients do: 2xx done, 429/5xx/connection errors retry, other codes reject.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../../config/schema.js';
import { redactUrl } from '../../config/schema.js';
import { CONTENT_ENCODING, CONTENT_TYPE, type EncodedBatch } from './encode.js';

export type PushOutcome =
  | { kind: 'ok'; status: number }
  | { kind: 'retry'; status: number | undefined; reason: string }
  | { kind: 'reject'; status: number; body: string };

/** Keep this much of an error response (Loki's messages list each rejected entry). */
const MAX_ERROR_BODY_BYTES = 16 * 1024;
const USER_AGENT = 'talos-alert-sidecar';

type LokiConfig = Config['loki'];

export class LokiTransport {
  private readonly url: URL;
  private readonly client: typeof http | typeof https;
  private agent: http.Agent | undefined;
  private headers: Record<string, string> = {};

  constructor(private readonly cfg: LokiConfig) {
    const base = new URL(cfg.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`loki.url: expected http(s), got ${redactUrl(cfg.url)}`);
    // Honour a path prefix (`http://gw/loki-a` → `/loki-a/loki/api/v1/push`).
    base.pathname = `${base.pathname.replace(/\/+$/, '')}/loki/api/v1/push`;
    this.url = base;
    this.client = base.protocol === 'https:' ? https : http;
  }

  /** Where pushes go, credentials hidden. */
  get endpoint(): string {
    return redactUrl(this.url.toString());
  }

  /** Read credential and TLS files (once, at start) and build the agent. Throws on misconfiguration. */
  async init(): Promise<void> {
    const cfg = this.cfg;
    const read = async (file: string, what: string): Promise<string> => {
      try {
        return await readFile(file, 'utf8');
      } catch (err) {
        throw new Error(`loki: cannot read ${what} ${file}: ${(err as Error).message}`);
      }
    };
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT };
    if (cfg.tenant !== '') headers['X-Scope-OrgID'] = cfg.tenant;

    const password = cfg.basicAuthPasswordFile !== '' ? (await read(cfg.basicAuthPasswordFile, 'basic-auth password file')).trim() : cfg.basicAuthPassword;
    const token = cfg.bearerTokenFile !== '' ? (await read(cfg.bearerTokenFile, 'bearer token file')).trim() : cfg.bearerToken;
    const basic = cfg.basicAuthUsername !== '' || password !== '';
    if (basic && token !== '') throw new Error('loki: configure either basic auth or a bearer token, not both');
    if (basic) {
      headers['Authorization'] = `Basic ${Buffer.from(`${cfg.basicAuthUsername}:${password}`).toString('base64')}`;
    } else if (token !== '') {
      headers['Authorization'] = `Bearer ${token}`;
    } else if (this.url.username !== '') {
      const user = decodeURIComponent(this.url.username);
      const pass = decodeURIComponent(this.url.password);
      headers['Authorization'] = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    }
    this.headers = headers;

    const agentOpts: https.AgentOptions = { keepAlive: true, maxSockets: 4 };
    if (this.client === https) {
      const tls = cfg.tls;
      if (tls.caFile !== '') agentOpts.ca = await read(tls.caFile, 'CA file');
      if (tls.certFile !== '') agentOpts.cert = await read(tls.certFile, 'client certificate');
      if (tls.keyFile !== '') agentOpts.key = await read(tls.keyFile, 'client key');
      agentOpts.rejectUnauthorized = !tls.insecureSkipVerify;
      this.agent = new https.Agent(agentOpts);
    } else {
      this.agent = new http.Agent(agentOpts);
    }
  }

  /** POST one batch. Never throws; `signal` aborts it (reported as a retry). */
  push(batch: EncodedBatch, signal?: AbortSignal): Promise<PushOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (o: PushOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(o);
      };
      const headers: Record<string, string | number> = {
        ...this.headers,
        'Content-Type': CONTENT_TYPE[batch.format],
        'Content-Length': batch.body.length,
      };
      const enc = CONTENT_ENCODING[batch.format];
      if (enc !== undefined) headers['Content-Encoding'] = enc;

      const req = this.client.request(this.url, { method: 'POST', agent: this.agent, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          res.resume();
          res.on('end', () => finish({ kind: 'ok', status }));
          res.on('error', () => finish({ kind: 'ok', status }));
          return;
        }
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < MAX_ERROR_BODY_BYTES) {
            chunks.push(c);
            kept += c.length;
          }
        });
        const done = (): void => {
          const body = Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES).toString('utf8').trim();
          if (status === 429 || status >= 500) finish({ kind: 'retry', status, reason: `HTTP ${status}: ${truncate(body, 300)}` });
          else finish({ kind: 'reject', status, body });
        };
        res.on('end', done);
        res.on('error', done);
      });
      const timer = setTimeout(() => req.destroy(new Error(`timeout after ${this.cfg.timeoutMs} ms`)), this.cfg.timeoutMs);
      const onAbort = (): void => {
        req.destroy(new Error('aborted'));
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'retry', status: undefined, reason: err.code ?? err.message }));
      req.end(batch.body);
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more chars)`;
}

/**
 * How many of a batch's lines a 4xx rejected. Loki stores the valid entries
 * of a push and lists the rest; its ingesters end each stream's list with
 * "total ignored: N out of M". Without that, the whole batch counts.
 */
export function rejectedLines(body: string, lines: number): number {
  let sum = 0;
  let found = false;
  for (const m of body.matchAll(/total ignored: (\d+) out of \d+/g)) {
    sum += Number(m[1]);
    found = true;
  }
  return found ? Math.min(sum, lines) : lines;
}
