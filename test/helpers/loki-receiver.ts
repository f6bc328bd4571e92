/**
 * A stand-in for Loki's push endpoint (`POST /loki/api/v1/push`) for tests,
 * benchmarks and soak runs. It decodes as Loki does — a raw snappy block of
 * `logproto.PushRequest` (application/x-protobuf), or JSON, gzip or not —
 * with its own snappy decoder and protobuf wire reader, written from the
 * formats' specifications, so it shares no code (and no mistake) with the
 * pusher's protobufjs/snappyjs encoder. Answers 204, or whatever fault the
 * test scripts.
 *
 *   const rx = await startLokiReceiver();
 *   // point loki.url at rx.url
 *   await rx.waitForLines(100);
 *   rx.entries  // every entry received: labels, tsNs, line, metadata
 *   await rx.setMode({ kind: 'down' });  // connection refused until set back
 *   rx.script({ kind: 'status', status: 500 }, { kind: 'status', status: 429 }); // the next two pushes
 *   await rx.close();
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { lokiPush, type LokiLimits, type LokiState } from './loki-validation.js';

export type { LokiLimits } from './loki-validation.js';

export interface ReceivedEntry {
  /** Stream labels in Prometheus text form, names sorted: `{host="…", job="…"}`. */
  labels: string;
  /** Unix nanoseconds as a decimal string. */
  tsNs: string;
  line: string;
  /** Structured metadata (empty when none was sent). */
  metadata: Record<string, string>;
  tenant: string | undefined;
}

export interface ReceivedRequest {
  contentType: string | undefined;
  contentEncoding: string | undefined;
  tenant: string | undefined;
  authorization: string | undefined;
  userAgent: string | undefined;
  path: string;
  bodyBytes: number;
  lines: number;
  /** Status we answered (0 for reset connections). */
  status: number;
}

export type LokiReceiverMode =
  /** Decode, record every entry, answer 204 (Loki's success). */
  | { kind: 'accept' }
  /** Decode and count lines, keep nothing (benchmarks, soak tests). */
  | { kind: 'discard' }
  /** Answer every push with `status` (e.g. 500, 503, 429, 401) and store nothing. */
  | { kind: 'status'; status: number; body?: string }
  /**
   * Loki's partial rejection: store the entries `keep` accepts, answer 400
   * listing the others the way Loki's ingester does ("total ignored: N out of M").
   */
  | { kind: 'reject'; keep?: (e: ReceivedEntry) => boolean; reason?: string }
  /** Store the entries (as Loki would), then answer 204 only after `delayMs` (slow Loki; clients time out). */
  | { kind: 'slow'; delayMs: number; store?: boolean }
  /** Accept the connection, then destroy it without an answer. */
  | { kind: 'reset' }
  /**
   * Validate and store as Loki 3.x does with these limits, answering with
   * Loki's own status codes and texts (see lokiPush below).
   */
  | { kind: 'loki'; limits: LokiLimits }
  /** Accept the request, never answer (a hanging Loki); nothing stored. */
  | { kind: 'hang' }
  /** Not listening: connections are refused. Only for setMode, not script. */
  | { kind: 'down' };

export interface LokiReceiver {
  readonly url: string;
  readonly port: number;
  /** Every stored entry, in arrival order (accept, reject and slow modes). */
  readonly entries: ReceivedEntry[];
  readonly requests: ReceivedRequest[];
  /** Totals over all decoded pushes, stored or not (the discard mode's output). */
  readonly stats: { requests: number; lines: number; bodyBytes: number; decodeErrors: number };
  mode(): LokiReceiverMode;
  setMode(mode: LokiReceiverMode): Promise<void>;
  /** Answer the next pushes with these modes, in order, then fall back to the current mode. */
  script(...modes: Exclude<LokiReceiverMode, { kind: 'down' }>[]): void;
  /** Resolves once `pred()` holds; rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  waitForLines(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface LokiReceiverOptions {
  port?: number;
  mode?: LokiReceiverMode;
  /** Path prefix the push endpoint lives under (e.g. `/loki-gw`). */
  pathPrefix?: string;
  /** Keep `requests` (off for long soak runs). */
  recordRequests?: boolean;
  /** Serve HTTPS with this PEM key and certificate. */
  tls?: { key: string; cert: string };
}

export async function startLokiReceiver(opts: LokiReceiverOptions = {}): Promise<LokiReceiver> {
  let mode: LokiReceiverMode = opts.mode ?? { kind: 'accept' };
  const scripted: Exclude<LokiReceiverMode, { kind: 'down' }>[] = [];
  const entries: ReceivedEntry[] = [];
  const lokiState: LokiState = { newest: new Map(), streams: new Set() };
  const requests: ReceivedRequest[] = [];
  const stats = { requests: 0, lines: 0, bodyBytes: 0, decodeErrors: 0 };
  const pushPath = `${opts.pathPrefix ?? ''}/loki/api/v1/push`;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const m = scripted.shift() ?? mode;
      const tenantHeader = req.headers['x-scope-orgid'];
      const tenant = typeof tenantHeader === 'string' ? tenantHeader : undefined;
      const record = (status: number, lines: number): void => {
        if (opts.recordRequests !== false) {
          requests.push({
            contentType: req.headers['content-type'],
            contentEncoding: req.headers['content-encoding'],
            tenant,
            authorization: req.headers.authorization,
            userAgent: req.headers['user-agent'],
            path: req.url ?? '',
            bodyBytes: body.length,
            lines,
            status,
          });
        }
      };
      if (m.kind === 'reset') {
        record(0, 0);
        req.socket.destroy();
        return;
      }
      if (req.method !== 'POST' || req.url !== pushPath) {
        record(404, 0);
        res.writeHead(404).end('404 page not found\n');
        return;
      }
      let decoded: ReceivedEntry[];
      try {
        decoded = decodePush(body, req.headers['content-type'], req.headers['content-encoding'], tenant);
      } catch (err) {
        stats.decodeErrors++;
        record(400, 0);
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
        return;
      }
      stats.requests++;
      stats.lines += decoded.length;
      stats.bodyBytes += body.length;
      switch (m.kind) {
        case 'accept':
        case 'down': // a request that raced the listener closing
          for (const e of decoded) entries.push(e);
          record(204, decoded.length);
          res.writeHead(204).end();
          return;
        case 'discard':
          record(204, decoded.length);
          res.writeHead(204).end();
          return;
        case 'status':
          record(m.status, decoded.length);
          res.writeHead(m.status, { 'Content-Type': 'text/plain' }).end(m.body ?? `${http.STATUS_CODES[m.status] ?? 'error'}\n`);
          return;
        case 'reject': {
          const keep = m.keep ?? (() => false);
          const rejectedByStream = new Map<string, ReceivedEntry[]>();
          for (const e of decoded) {
            if (keep(e)) entries.push(e);
            else {
              const list = rejectedByStream.get(e.labels) ?? [];
              list.push(e);
              rejectedByStream.set(e.labels, list);
            }
          }
          if (rejectedByStream.size === 0) {
            record(204, decoded.length);
            res.writeHead(204).end();
            return;
          }
          record(400, decoded.length);
          res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end(lokiRejection(rejectedByStream, decoded, tenant, m.reason));
          return;
        }
        case 'loki': {
          const r = lokiPush(decoded, m.limits, lokiState, tenant ?? 'fake');
          for (const e of r.stored) entries.push(e);
          record(r.status, decoded.length);
          if (r.status === 204) res.writeHead(204).end();
          else res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${r.body}\n`);
          return;
        }
        case 'hang':
          record(0, decoded.length);
          return; // never answered; the client times out
        case 'slow': {
          if (m.store !== false) for (const e of decoded) entries.push(e);
          const t = setTimeout(() => {
            timers.delete(t);
            record(204, decoded.length);
            if (!res.destroyed) res.writeHead(204).end();
          }, m.delayMs);
          timers.add(t);
          return;
        }
      }
    });
  };
  const server = opts.tls !== undefined ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 30_000;

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const unlisten = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });

  let port = 0;
  if (mode.kind !== 'down') port = await listen(opts.port ?? 0);
  else {
    port = await listen(opts.port ?? 0);
    await unlisten();
  }

  const rx: LokiReceiver = {
    url: `${opts.tls !== undefined ? 'https' : 'http'}://127.0.0.1:${port}${opts.pathPrefix ?? ''}`,
    port,
    entries,
    requests,
    stats,
    mode: () => mode,
    async setMode(next) {
      const wasDown = mode.kind === 'down';
      mode = next;
      if (next.kind === 'down' && !wasDown) await unlisten();
      if (next.kind !== 'down' && wasDown) await listen(port);
    },
    script(...modes) {
      scripted.push(...modes);
    },
    async waitFor(pred, timeoutMs = 10_000, what = 'condition') {
      const until = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > until) throw new Error(`loki receiver: timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    waitForLines(n, timeoutMs = 10_000) {
      return rx.waitFor(() => entries.length >= n, timeoutMs, `${n} lines (have ${entries.length})`);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await unlisten();
    },
  };
  return rx;
}

/** Loki's ingester wording for a partly rejected push (pkg/ingester/stream.go). */
function lokiRejection(byStream: Map<string, ReceivedEntry[]>, all: ReceivedEntry[], tenant: string | undefined, reason?: string): string {
  const parts: string[] = [];
  for (const [labels, rejected] of byStream) {
    const total = all.filter((e) => e.labels === labels).length;
    let msg = '';
    for (const e of rejected.slice(0, 10)) {
      msg += `entry with timestamp ${new Date(Number(BigInt(e.tsNs) / 1_000_000n)).toISOString()} ignored, reason: '${reason ?? 'entry too far behind'}',\n`;
    }
    msg += `user '${tenant ?? 'fake'}', total ignored: ${rejected.length} out of ${total} for stream: ${labels}`;
    parts.push(msg);
  }
  return `${parts.join('\n')}\n`;
}

// ---------------------------------------------------------------- decoding

/** Decode one push body into entries, as Loki's distributor would parse it. Throws with a Loki-like message. */
export function decodePush(body: Buffer, contentType: string | undefined, contentEncoding: string | undefined, tenant?: string): ReceivedEntry[] {
  const type = (contentType ?? '').split(';')[0]!.trim();
  if (type === 'application/x-protobuf') {
    if (contentEncoding !== undefined && contentEncoding !== '') throw new Error(`unexpected Content-Encoding ${contentEncoding} for protobuf`);
    return decodePushRequest(snappyDecodeBlock(body), tenant);
  }
  if (type === 'application/json' || type === '') {
    const raw = contentEncoding === 'gzip' ? gunzipSync(body) : body;
    return decodeJsonPush(raw.toString('utf8'), tenant);
  }
  throw new Error(`unsupported Content-Type ${contentType}`);
}

/** Snappy block format: varint uncompressed length, then literal and copy elements. */
export function snappyDecodeBlock(src: Uint8Array): Buffer {
  let p = 0;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= src.length || shift > 28) throw new Error('snappy: bad length header');
    const b = src[p++]!;
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  const out = Buffer.alloc(len);
  let o = 0;
  while (p < src.length) {
    const tag = src[p++]!;
    const type = tag & 3;
    if (type === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (p + extra > src.length) throw new Error('snappy: truncated literal length');
        n = 0;
        for (let i = 0; i < extra; i++) n += src[p + i]! * 2 ** (8 * i);
        p += extra;
      }
      n += 1;
      if (p + n > src.length || o + n > len) throw new Error('snappy: literal overruns');
      out.set(src.subarray(p, p + n), o);
      p += n;
      o += n;
      continue;
    }
    let n: number;
    let offset: number;
    if (type === 1) {
      n = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | src[p++]!;
    } else if (type === 2) {
      n = 1 + (tag >>> 2);
      offset = src[p]! | (src[p + 1]! << 8);
      p += 2;
    } else {
      n = 1 + (tag >>> 2);
      offset = (src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16)) + src[p + 3]! * 2 ** 24;
      p += 4;
    }
    if (p > src.length || offset === 0 || offset > o || o + n > len) throw new Error('snappy: bad copy');
    for (let i = 0; i < n; i++, o++) out[o] = out[o - offset]!; // byte by byte: copies may overlap
  }
  if (o !== len) throw new Error(`snappy: decoded ${o} bytes, header said ${len}`);
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Minimal protobuf wire reader: enough for logproto.PushRequest. */
class Wire {
  p = 0;
  constructor(
    readonly b: Uint8Array,
    readonly end = b.length,
  ) {}
  get done(): boolean {
    return this.p >= this.end;
  }
  /** Varint as a BigInt (int64 fields must not lose precision). */
  varint(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.p >= this.end || shift > 63n) throw new Error('proto: bad varint');
      const byte = this.b[this.p++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return v;
    }
  }
  key(): { field: number; wt: number } {
    const k = Number(this.varint());
    return { field: k >>> 3, wt: k & 7 };
  }
  bytes(): Wire {
    const n = Number(this.varint());
    if (this.p + n > this.end) throw new Error('proto: length overruns message');
    const sub = new Wire(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return sub;
  }
  string(): string {
    const w = this.bytes();
    return utf8.decode(w.b);
  }
  skip(wt: number): void {
    if (wt === 0) this.varint();
    else if (wt === 1) this.p += 8;
    else if (wt === 2) this.bytes();
    else if (wt === 5) this.p += 4;
    else throw new Error(`proto: unsupported wire type ${wt}`);
  }
}

function expectLen(wt: number, what: string): void {
  if (wt !== 2) throw new Error(`proto: ${what} has wire type ${wt}, want 2`);
}

/** `logproto.PushRequest` (field numbers from Loki's push.proto) into entries. */
export function decodePushRequest(buf: Uint8Array, tenant?: string): ReceivedEntry[] {
  const out: ReceivedEntry[] = [];
  const w = new Wire(buf);
  while (!w.done) {
    const { field, wt } = w.key();
    if (field !== 1) {
      w.skip(wt);
      continue;
    }
    expectLen(wt, 'PushRequest.streams');
    const s = w.bytes();
    let labels: string | undefined;
    const raw: { tsNs: string; line: string; metadata: Record<string, string> }[] = [];
    while (!s.done) {
      const k = s.key();
      if (k.field === 1) {
        expectLen(k.wt, 'StreamAdapter.labels');
        labels = s.string();
      } else if (k.field === 2) {
        expectLen(k.wt, 'StreamAdapter.entries');
        raw.push(decodeEntry(s.bytes()));
      } else s.skip(k.wt);
    }
    if (labels === undefined) throw new Error('error parsing labels: missing');
    const canonical = labelsText(parseLabels(labels));
    for (const e of raw) out.push({ labels: canonical, tsNs: e.tsNs, line: e.line, metadata: e.metadata, tenant });
  }
  return out;
}

function decodeEntry(e: Wire): { tsNs: string; line: string; metadata: Record<string, string> } {
  let seconds = 0n;
  let nanos = 0n;
  let line = '';
  const metadata: Record<string, string> = {};
  while (!e.done) {
    const k = e.key();
    if (k.field === 1) {
      expectLen(k.wt, 'EntryAdapter.timestamp');
      const t = e.bytes();
      while (!t.done) {
        const tk = t.key();
        if (tk.field === 1 && tk.wt === 0) seconds = BigInt.asIntN(64, t.varint());
        else if (tk.field === 2 && tk.wt === 0) nanos = BigInt.asIntN(32, t.varint());
        else t.skip(tk.wt);
      }
    } else if (k.field === 2) {
      expectLen(k.wt, 'EntryAdapter.line');
      line = e.string();
    } else if (k.field === 3) {
      expectLen(k.wt, 'EntryAdapter.structuredMetadata');
      const m = e.bytes();
      let name = '';
      let value = '';
      while (!m.done) {
        const mk = m.key();
        if (mk.field === 1 && mk.wt === 2) name = m.string();
        else if (mk.field === 2 && mk.wt === 2) value = m.string();
        else m.skip(mk.wt);
      }
      metadata[name] = value;
    } else e.skip(k.wt);
  }
  if (nanos < 0n || nanos > 999_999_999n) throw new Error(`timestamp nanos out of range: ${nanos}`);
  return { tsNs: (seconds * 1_000_000_000n + nanos).toString(), line, metadata };
}

function decodeJsonPush(text: string, tenant?: string): ReceivedEntry[] {
  const doc = JSON.parse(text) as { streams?: unknown };
  if (!Array.isArray(doc.streams)) throw new Error('json: missing "streams" array');
  const out: ReceivedEntry[] = [];
  for (const s of doc.streams as { stream?: Record<string, unknown>; values?: unknown[] }[]) {
    if (s.stream === null || typeof s.stream !== 'object') throw new Error('json: stream without "stream" labels');
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.stream)) {
      if (typeof v !== 'string') throw new Error(`json: label ${k} is not a string`);
      labels[k] = v;
    }
    const text = labelsText(labels);
    for (const v of s.values ?? []) {
      if (!Array.isArray(v) || v.length < 2 || v.length > 3 || typeof v[0] !== 'string' || typeof v[1] !== 'string') {
        throw new Error(`json: bad value ${JSON.stringify(v).slice(0, 100)}`);
      }
      if (!/^\d+$/.test(v[0])) throw new Error(`json: timestamp is not unix nanoseconds: ${v[0]}`);
      const md: Record<string, string> = {};
      if (v.length === 3) {
        for (const [k, mv] of Object.entries(v[2] as Record<string, unknown>)) {
          if (typeof mv !== 'string') throw new Error(`json: metadata ${k} is not a string`);
          md[k] = mv;
        }
      }
      out.push({ labels: text, tsNs: BigInt(v[0]).toString(), line: v[1], metadata: md, tenant });
    }
  }
  return out;
}

/** Parse Prometheus text form `{a="x", b="y\\"z"}` strictly (Loki rejects what this rejects). */
export function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let p = 0;
  const ws = (): void => {
    while (s[p] === ' ') p++;
  };
  const fail = (why: string): never => {
    throw new Error(`error parsing labels ${JSON.stringify(s)}: ${why} at ${p}`);
  };
  ws();
  if (s[p++] !== '{') fail('expected {');
  ws();
  if (s[p] === '}') {
    p++;
  } else {
    for (;;) {
      ws();
      const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(p));
      if (m === null) fail('expected a label name');
      const name = m![0];
      p += name.length;
      ws();
      if (s[p++] !== '=') fail('expected =');
      ws();
      if (s[p++] !== '"') fail('expected "');
      let v = '';
      for (;;) {
        const c = s[p++];
        if (c === undefined) fail('unterminated value');
        if (c === '"') break;
        if (c === '\\') {
          const e = s[p++];
          if (e === 'n') v += '\n';
          else if (e === '\\' || e === '"') v += e;
          else fail(`bad escape \\${e}`);
        } else v += c;
      }
      if (name in out) fail(`duplicate label ${name}`);
      out[name] = v;
      ws();
      if (s[p] === ',') {
        p++;
        continue;
      }
      if (s[p++] !== '}') fail('expected , or }');
      break;
    }
  }
  ws();
  if (p !== s.length) fail('trailing characters');
  if (Object.keys(out).length === 0) fail('no labels');
  return out;
}

/** Canonical text form (names sorted), so protobuf and JSON pushes compare equal. */
export function labelsText(labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `{${parts.join(', ')}}`;
}
