/**
 * One push request to Loki over node:http/https with a keep-alive agent
 * (custom CA, client certificate, basic or bearer auth, tenant header) and a
 * hard per-request deadline. It reports what happened; what to do about an
 * answer is the sender's business (see loki-errors.ts).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../../config/schema.js';
import { redactUrl } from '../redact.js';
import { CONTENT_ENCODING, CONTENT_TYPE, type EncodedBatch } from './encode.js';

export type PushOutcome =
  | { kind: 'ok'; status: number }
  /** No answer: connection refused or reset, timeout, or aborted by stop. */
  | { kind: 'error'; reason: string }
  /** Loki answered with a non-2xx status. `body` is raw (scrub before logging); `complete` unless cut at the bound. */
  | { kind: 'answer'; status: number; body: string; complete: boolean };

/** Keep this much of an error response (Loki's messages list each rejected entry). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
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

  /** POST one batch. Never throws; `signal` aborts it (reported as an error). */
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
        let complete = true;
        res.on('data', (c: Buffer) => {
          if (kept < MAX_ERROR_BODY_BYTES) {
            chunks.push(c);
            kept += c.length;
          } else complete = false;
        });
        const done = (): void => {
          const all = Buffer.concat(chunks);
          if (all.length > MAX_ERROR_BODY_BYTES) complete = false;
          finish({ kind: 'answer', status, body: all.subarray(0, MAX_ERROR_BODY_BYTES).toString('utf8'), complete });
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
      req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'error', reason: err.code ?? err.message }));
      req.end(batch.body);
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}
