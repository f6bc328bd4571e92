/**
 * A real Alertmanager (Debian's /usr/bin/prometheus-alertmanager) for tests:
 * temp config with a null receiver, temp storage, 127.0.0.1 on a free port,
 * no cluster gossip. Missing binary → throw (never a silent skip).
 *
 *   const am = await startAlertmanager();
 *   ... post alerts to am.url ...
 *   expect(await am.alerts()).toHaveLength(1);
 *   await am.stop();
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, portInUse, requireBinary } from './daemon-process.js';
import { freePort } from './ports.js';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/** Alertmanager v2 `GettableAlert` (the fields tests look at). */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
}

export interface AlertmanagerOptions {
  /** Listen on this port (default: a free one). */
  port?: number;
  /** `--web.route-prefix`, e.g. `/am`: the API is then at `<url>/api/v2/...` with url ending in `/am`. */
  routePrefix?: string;
  /** Contents for `--web.config.file` (TLS / basic_auth_users). */
  webConfigYaml?: string;
  /** Further command-line flags. */
  extraArgs?: string[];
  /** Readiness wait bound (default 20 s). */
  readyTimeoutMs?: number;
}

export interface AlertmanagerInstance {
  /** Base URL including the route prefix, no trailing slash: what the notifier is configured with. */
  readonly url: string;
  readonly port: number;
  /** GET /api/v2/alerts (active, silenced, inhibited; Alertmanager leaves out alerts whose endsAt has passed). */
  alerts(): Promise<GettableAlert[]>;
  /** Stop the process (state is in memory: alerts are gone after a restart). */
  stop(): Promise<void>;
  /** Stop, then start again on the same port. */
  restart(): Promise<void>;
  /** Stop the process but keep port and config, to simulate an outage; `up()` brings it back. */
  down(): Promise<void>;
  /** Start again on the same port after `down()`; resolves when ready. */
  up(): Promise<void>;
  /** Tail of Alertmanager's log output. */
  output(): string;
}

const CONFIG = `route:
  receiver: 'null'
  group_by: ['...']
receivers:
  - name: 'null'
`;

export async function startAlertmanager(opts: AlertmanagerOptions = {}): Promise<AlertmanagerInstance> {
  requireBinary(ALERTMANAGER_BIN, 'prometheus-alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'talos-am-'));
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, CONFIG);
  let webConfigFile: string | undefined;
  if (opts.webConfigYaml !== undefined) {
    webConfigFile = join(dir, 'web.yml');
    writeFileSync(webConfigFile, opts.webConfigYaml);
  }
  const prefix = (opts.routePrefix ?? '').replace(/\/+$/, '');
  if (prefix !== '' && !prefix.startsWith('/')) throw new Error(`routePrefix must start with '/': ${prefix}`);

  const daemonFor = (port: number): Daemon =>
    new Daemon({
      name: `alertmanager :${port}`,
      binary: ALERTMANAGER_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
        ...(prefix !== '' ? [`--web.route-prefix=${prefix}`, `--web.external-url=http://127.0.0.1:${port}${prefix}`] : []),
        ...(webConfigFile !== undefined ? [`--web.config.file=${webConfigFile}`] : []),
        ...(opts.extraArgs ?? []),
      ],
      readyUrl: `http://127.0.0.1:${port}${prefix}/-/ready`,
      readyTimeoutMs: opts.readyTimeoutMs,
    });

  // A free port can be taken between freePort() and the daemon's listen; retry a few times.
  let port = opts.port ?? (await freePort());
  let daemon = daemonFor(port);
  for (let attempt = 1; ; attempt++) {
    try {
      await daemon.start();
      break;
    } catch (err) {
      if (opts.port === undefined && attempt < 4 && portInUse(daemon.output)) {
        port = await freePort();
        daemon = daemonFor(port);
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  const url = `http://127.0.0.1:${port}${prefix}`;
  let removed = false;
  const down = (): Promise<void> => daemon.stop();
  const up = async (): Promise<void> => {
    if (removed) throw new Error('alertmanager was stopped for good');
    // Same port: the old socket is closed once the process is gone (Go listens with SO_REUSEADDR).
    for (let attempt = 1; ; attempt++) {
      try {
        await daemon.start();
        return;
      } catch (err) {
        if (attempt >= 3 || !portInUse(daemon.output)) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  return {
    url,
    port,
    async alerts() {
      const res = await fetch(`${url}/api/v2/alerts`, { signal: AbortSignal.timeout(5000) });
      if (res.status !== 200) throw new Error(`GET ${url}/api/v2/alerts: HTTP ${res.status}: ${await res.text()}`);
      return (await res.json()) as GettableAlert[];
    },
    async stop() {
      await daemon.stop();
      if (!removed) {
        removed = true;
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async restart() {
      await down();
      await up();
    },
    down,
    up,
    output: () => daemon.output,
  };
}

/** One POST seen by {@link startAlertReceiver}. */
export interface ReceivedPost {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body (PostableAlert[] for the alerts API). */
  readonly alerts: PostedAlert[];
  readonly rawBody: string;
  /** Wall clock and monotonic clock at arrival of the complete body. */
  readonly atMs: number;
  readonly atPerfMs: number;
  /** Status we answered (0 until answered). */
  status: number;
  /** When we answered (with forwardTo: when the real Alertmanager had accepted it). */
  answeredAtMs: number;
  answeredPerfMs: number;
}

export interface PostedAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertReceiverOptions {
  /** Serve HTTPS with this key/cert; with `clientCa`, require a client certificate signed by it. */
  tls?: { key: string | Buffer; cert: string | Buffer; clientCa?: string | Buffer };
  /** Forward each POST to this Alertmanager base URL and answer with its status (a timestamping proxy). */
  forwardTo?: string;
}

/**
 * A tiny 127.0.0.1 stand-in for an Alertmanager that records every request:
 * for checking headers (auth, tenant), paths, batching and failure handling,
 * or (with `forwardTo`) for timestamping arrivals in front of a real one.
 */
export interface AlertReceiver {
  readonly url: string;
  readonly port: number;
  readonly posts: ReceivedPost[];
  /** Decide the status of request number n (0-based); default 200. Ignored with forwardTo. */
  respond(status: (n: number, post: ReceivedPost) => number): void;
  /** Hold responses until the returned function is called (simulates a slow/hung Alertmanager). */
  hold(): () => void;
  /** Wait (bounded) until `accept(posts)` holds. */
  waitFor(accept: (posts: ReceivedPost[]) => boolean, timeoutMs?: number): Promise<ReceivedPost[]>;
  close(): Promise<void>;
}

export async function startAlertReceiver(opts: AlertReceiverOptions = {}): Promise<AlertReceiver> {
  const posts: ReceivedPost[] = [];
  let statusFor: (n: number, post: ReceivedPost) => number = () => 200;
  let gate: Promise<void> | undefined;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const atPerfMs = performance.now();
      const atMs = Date.now();
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let alerts: PostedAlert[] = [];
      try {
        alerts = rawBody === '' ? [] : (JSON.parse(rawBody) as PostedAlert[]);
      } catch {
        // recorded as rawBody only
      }
      const post: ReceivedPost = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, alerts, rawBody, atMs, atPerfMs, status: 0, answeredAtMs: 0, answeredPerfMs: 0 };
      const n = posts.length;
      posts.push(post);
      const answer = async (): Promise<void> => {
        if (gate !== undefined) await gate;
        let status = statusFor(n, post);
        let body = '';
        if (opts.forwardTo !== undefined) {
          const base = opts.forwardTo.replace(/\/+$/, '');
          const path = (req.url ?? '').replace(/^.*?(\/api\/v2\/alerts)/, '$1');
          try {
            const r = await fetch(`${base}${path}`, {
              method: req.method,
              headers: { 'Content-Type': 'application/json' },
              body: rawBody,
              signal: AbortSignal.timeout(5000),
            });
            status = r.status;
            body = await r.text();
          } catch {
            status = 502;
          }
        }
        post.answeredPerfMs = performance.now();
        post.answeredAtMs = Date.now();
        post.status = status;
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(body);
      };
      void answer();
    });
  };
  const server = opts.tls
    ? https.createServer(
        { key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.clientCa, requestCert: opts.tls.clientCa !== undefined, rejectUnauthorized: opts.tls.clientCa !== undefined },
        handler,
      )
    : http.createServer(handler);
  // Let keep-alive sockets not hold close() forever.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return {
    url,
    port,
    posts,
    respond(fn) {
      statusFor = fn;
    },
    hold() {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
    async waitFor(accept, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!accept(posts)) {
        if (Date.now() > deadline) throw new Error(`alert receiver: condition not met within ${timeoutMs}ms; ${posts.length} posts: ${posts.map((p) => p.rawBody).join('\n')}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return posts;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
