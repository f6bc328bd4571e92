/**
 * A local stand-in for Loki's push endpoint for the soak: accepts
 * `POST /loki/api/v1/push` as the sidecar sends it by default (a snappy block
 * of `logproto.PushRequest`, decoded with snappyjs and protobufjs), answers
 * 204, and stores, per soak sequence number (the `soak_seq` structured
 * metadata the soak sender adds), how many times the line arrived — enough to
 * count unique, duplicated and never-sent lines in one byte per line, where
 * keeping every line would cost gigabytes over a long soak.
 *
 * It can go down (listener closed, open connections reset: the sidecar sees
 * connection refused) and come back on the same port.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import protobuf from 'protobufjs/light.js';

// snappyjs ships no types; this is the part of its API used here.
const snappy = createRequire(import.meta.url)('snappyjs') as { uncompress(input: Buffer): Buffer };

// Loki's push.proto (package logproto), the fields a client sends. Field numbers are the wire contract.
const PushRequest = protobuf.Root.fromJSON({
  nested: {
    PushRequest: { fields: { streams: { rule: 'repeated', type: 'Stream', id: 1 } } },
    Stream: { fields: { labels: { type: 'string', id: 1 }, entries: { rule: 'repeated', type: 'Entry', id: 2 } } },
    Entry: {
      fields: {
        timestamp: { type: 'Timestamp', id: 1 },
        line: { type: 'string', id: 2 },
        structuredMetadata: { rule: 'repeated', type: 'LabelPair', id: 3 },
      },
    },
    LabelPair: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
    Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
  },
}).lookupType('PushRequest');

interface DecodedPush {
  streams: Array<{ labels: string; entries: Array<{ line: string; structuredMetadata: Array<{ name: string; value: string }> }> }>;
}

export interface LokiStoreStats {
  requests: number;
  /** Requests we could not decode (answered 400). */
  badRequests: number;
  entries: number;
  bytes: number;
  /** Entries without a `soak_seq` (not from the soak sender). */
  unmarked: number;
  /** Distinct sequence numbers stored. */
  unique: number;
  /** Arrivals beyond the first of a sequence number (at-least-once delivery). */
  duplicates: number;
  /** Distinct label sets seen. */
  streams: number;
  /** Highest sequence number seen + 1. */
  seqEnd: number;
}

export class LokiStore {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  /** Arrivals per sequence number, saturating at 255. */
  private counts = new Uint8Array(1 << 20);
  private readonly streamLabels = new Set<string>();
  private readonly s: LokiStoreStats = { requests: 0, badRequests: 0, entries: 0, bytes: 0, unmarked: 0, unique: 0, duplicates: 0, streams: 0, seqEnd: 0 };
  private port = 0;
  /** Set while a crash mid-push is awaited: the next push is stored, then its connection reset. */
  private crashNext: (() => void) | undefined;

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get up(): boolean {
    return this.server.listening;
  }

  stats(): LokiStoreStats {
    return { ...this.s, streams: this.streamLabels.size };
  }

  /** How many times sequence number `seq` arrived (0..255). */
  count(seq: number): number {
    return seq < this.counts.length ? this.counts[seq]! : 0;
  }

  /** The first `limit` sequence numbers in [0, end) that never arrived. */
  missing(end: number, limit = 10): number[] {
    const out: number[] = [];
    for (let i = 0; i < end && out.length < limit; i++) if (this.count(i) === 0) out.push(i);
    return out;
  }

  /** Listen (port 0: a free one the first time; afterwards the same port again). */
  start(port = this.port): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /**
   * Go down: stop listening and reset open connections (in-flight pushes fail).
   * `crashMidPush`: go down the way a crashing Loki can — the next push is
   * stored but never answered (bounded wait for it), so the client must send
   * it again and the line arrives twice: at-least-once delivery made visible.
   */
  async stop(opts: { crashMidPush?: boolean } = {}): Promise<void> {
    if (opts.crashMidPush === true && this.server.listening) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        this.crashNext = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.crashNext = undefined;
    }
    await new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'GET' && req.url === '/ready') {
      res.writeHead(200).end('ready\n');
      return;
    }
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/loki/api/v1/push') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.s.requests++;
      const body = Buffer.concat(chunks);
      this.s.bytes += body.length;
      let push: DecodedPush;
      try {
        if (req.headers['content-type'] !== 'application/x-protobuf') throw new Error(`unexpected Content-Type ${req.headers['content-type']}`);
        // Decoded messages read repeated fields as arrays (empty when absent) without a toObject copy.
        push = PushRequest.decode(snappy.uncompress(body)) as unknown as DecodedPush;
      } catch (e) {
        this.s.badRequests++;
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`${(e as Error).message}\n`);
        return;
      }
      for (const stream of push.streams) {
        this.streamLabels.add(stream.labels);
        for (const e of stream.entries) this.store(e.structuredMetadata);
      }
      if (this.crashNext !== undefined) {
        this.crashNext();
        this.crashNext = undefined;
        req.socket.destroy();
        return;
      }
      res.writeHead(204).end();
    });
  }

  private store(metadata: ReadonlyArray<{ name: string; value: string }>): void {
    this.s.entries++;
    const pair = metadata.find((m) => m.name === 'soak_seq');
    const seq = pair === undefined ? NaN : Number(pair.value);
    if (!Number.isInteger(seq) || seq < 0) {
      this.s.unmarked++;
      return;
    }
    if (seq >= this.counts.length) {
      let n = this.counts.length;
      while (n <= seq) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.counts);
      this.counts = grown;
    }
    const c = this.counts[seq]!;
    if (c === 0) this.s.unique++;
    else this.s.duplicates++;
    if (c < 255) this.counts[seq] = c + 1;
    if (seq >= this.s.seqEnd) this.s.seqEnd = seq + 1;
  }
}
