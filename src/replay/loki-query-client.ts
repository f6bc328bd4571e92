/**
 * GET /loki/api/v1/query_range for log queries, with the forwarding
 * settings' tenant header, auth and TLS (loki.* in the config), a per-request
 * deadline, and bounded jittered retries on 429, 5xx and connection errors.
 * Any other answer (400 for a query too long, too many entries, bad LogQL) is
 * an error carrying Loki's own message: retrying cannot fix it.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config/schema.js';
import { redactUrl } from '../config/schema.js';
import { Backoff } from '../sinks/backoff.js';
import { LabelSetCache } from '../log-event.js';
import { splitNs, type HistoryEntry } from './history-entry.js';

export interface QueryClientOptions {
  /** The loki.* settings: url, tenant, basic auth / bearer token (values or files), tls. */
  loki: Pick<Config['loki'], 'url' | 'tenant' | 'basicAuthUsername' | 'basicAuthPassword' | 'basicAuthPasswordFile' | 'bearerToken' | 'bearerTokenFile' | 'tls'>;
  timeoutMs?: number;
  /** Tries after the first one for 429/5xx/connection errors (default 5). */
  maxRetries?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RangeQuery {
  query: string;
  startNs: bigint;
  endNs: bigint;
  limit: number;
}

export interface QueryPage {
  /** Every entry of the answer, across streams, in timestamp order. */
  entries: HistoryEntry[];
  /** Retries this page needed (429/5xx/connection). */
  retries: number;
}

/** A non-retryable answer, or retries exhausted. */
export class LokiQueryError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'LokiQueryError';
  }
}

const MAX_ERROR_BODY = 4096;

interface StreamJson {
  stream?: Record<string, string>;
  values?: Array<[string, string, { structuredMetadata?: Record<string, string> }?]>;
}

export class LokiQueryClient {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly agent: http.Agent;
  private readonly client: typeof http | typeof https;
  private readonly labelSets = new LabelSetCache();
  private readonly sleep: (ms: number) => Promise<void>;
  /** Requests sent, retries included. */
  requests = 0;
  retries = 0;

  constructor(private readonly opts: QueryClientOptions) {
    const cfg = opts.loki;
    const base = new URL(cfg.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`loki url: expected http(s), got ${redactUrl(cfg.url)}`);
    base.pathname = `${base.pathname.replace(/\/+$/, '')}/loki/api/v1/query_range`;
    this.url = base;
    this.client = base.protocol === 'https:' ? https : http;
    this.headers = authHeaders(cfg, base);
    // Ask for structured metadata apart from the stream labels (Loki 3.x), so
    // the stream is exactly the labels the sidecar pushed.
    this.headers['X-Loki-Response-Encoding-Flags'] = 'categorize-labels';
    const agentOpts: https.AgentOptions = { keepAlive: true, maxSockets: 2 };
    if (this.client === https) {
      const t = cfg.tls;
      if (t.caFile !== '') agentOpts.ca = readFileSync(t.caFile, 'utf8');
      if (t.certFile !== '') agentOpts.cert = readFileSync(t.certFile, 'utf8');
      if (t.keyFile !== '') agentOpts.key = readFileSync(t.keyFile, 'utf8');
      agentOpts.rejectUnauthorized = !t.insecureSkipVerify;
      this.agent = new https.Agent(agentOpts);
    } else {
      this.agent = new http.Agent(agentOpts);
    }
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get endpoint(): string {
    return redactUrl(this.url.toString());
  }

  close(): void {
    this.agent.destroy();
  }

  /** One page of a forward log query over [start, end). */
  async queryRange(q: RangeQuery): Promise<QueryPage> {
    const url = new URL(this.url);
    url.searchParams.set('query', q.query);
    url.searchParams.set('start', q.startNs.toString());
    url.searchParams.set('end', q.endNs.toString());
    url.searchParams.set('limit', String(q.limit));
    url.searchParams.set('direction', 'forward');
    const backoff = new Backoff(this.opts.minBackoffMs ?? 500, this.opts.maxBackoffMs ?? 10_000);
    const maxRetries = this.opts.maxRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      this.requests++;
      const res = await this.get(url).catch((e: Error) => ({ status: undefined, body: e.message, retryAfterMs: undefined }));
      if (res.status === 200) return { entries: this.decode(res.body, q.query), retries: attempt };
      const retryable = res.status === undefined || res.status === 429 || res.status >= 500;
      const what = res.status === undefined ? `connection error: ${res.body}` : `HTTP ${res.status}: ${res.body.trim()}`;
      if (!retryable) throw new LokiQueryError(`Loki rejected ${q.query}: ${what}`, res.status);
      if (attempt >= maxRetries) throw new LokiQueryError(`Loki query ${q.query} failed after ${attempt + 1} tries: ${what}`, res.status);
      this.retries++;
      // Loki's 429 may say when to come back; never wait less than our backoff.
      await this.sleep(Math.max(backoff.next(), Math.min(res.retryAfterMs ?? 0, 60_000)));
    }
  }

  private get(url: URL): Promise<{ status: number; body: string; retryAfterMs: number | undefined }> {
    return new Promise((resolve, reject) => {
      const req = this.client.get(url, { agent: this.agent, headers: this.headers, timeout: this.opts.timeoutMs ?? 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let body = Buffer.concat(chunks).toString('utf8');
          if (status !== 200 && body.length > MAX_ERROR_BODY) body = body.slice(0, MAX_ERROR_BODY);
          const ra = Number(res.headers['retry-after']);
          resolve({ status, body, retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs ?? 60_000} ms`)));
      req.on('error', reject);
    });
  }

  private decode(body: string, query: string): HistoryEntry[] {
    let doc: { status?: string; data?: { resultType?: string; result?: StreamJson[]; encodingFlags?: string[] } };
    try {
      doc = JSON.parse(body) as typeof doc;
    } catch {
      throw new LokiQueryError(`Loki answered ${query} with invalid JSON`, 200);
    }
    const data = doc.data;
    if (doc.status !== 'success' || data?.resultType !== 'streams' || !Array.isArray(data.result)) {
      throw new LokiQueryError(`Loki answered ${query} with ${JSON.stringify(doc.status)}/${JSON.stringify(data?.resultType)}, expected success/streams`, 200);
    }
    const categorized = data.encodingFlags?.includes('categorize-labels') === true;
    const out: HistoryEntry[] = [];
    for (const s of data.result) {
      const stream = this.labelSets.intern({ ...(s.stream ?? {}) });
      for (const v of s.values ?? []) {
        const t = splitNs(v[0]);
        if (t === undefined || typeof v[1] !== 'string') throw new LokiQueryError(`Loki answered ${query} with a bad entry ${JSON.stringify(v).slice(0, 200)}`, 200);
        const sm = categorized ? v[2]?.structuredMetadata : undefined;
        out.push({ ms: t.ms, nsRem: t.nsRem, ns: v[0], stream, line: v[1], metadata: sm !== undefined && Object.keys(sm).length > 0 ? sm : undefined });
      }
    }
    // Each stream comes sorted; the page as a whole is the first `limit`
    // entries across streams, so one stable sort orders it.
    out.sort((a, b) => a.ms - b.ms || a.nsRem - b.nsRem);
    return out;
  }
}

function authHeaders(cfg: QueryClientOptions['loki'], url: URL): Record<string, string> {
  const headers: Record<string, string> = { 'User-Agent': 'talos-alert-sidecar-replay', Accept: 'application/json' };
  if (cfg.tenant !== '') headers['X-Scope-OrgID'] = cfg.tenant;
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new Error(`loki: cannot read ${what} ${file}: ${(e as Error).message}`);
    }
  };
  const password = cfg.basicAuthPasswordFile !== '' ? read(cfg.basicAuthPasswordFile, 'basic-auth password file') : cfg.basicAuthPassword;
  const token = cfg.bearerTokenFile !== '' ? read(cfg.bearerTokenFile, 'bearer token file') : cfg.bearerToken;
  const basic = cfg.basicAuthUsername !== '' || password !== '';
  if (basic && token !== '') throw new Error('loki: configure either basic auth or a bearer token, not both');
  if (basic) headers['Authorization'] = `Basic ${Buffer.from(`${cfg.basicAuthUsername}:${password}`).toString('base64')}`;
  else if (token !== '') headers['Authorization'] = `Bearer ${token}`;
  else if (url.username !== '') {
    headers['Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  }
  // Credentials in the URL go in the header, not the request line.
  url.username = '';
  url.password = '';
  return headers;
}
