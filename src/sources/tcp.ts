/**
 * Talos json_lines over TCP: one connection per node per stream, newline
 * framed, no handshake. Sockets are never paused: a receiver that stops reading
 * stalls the whole node's log shipping (Talos waits on every destination).
 */
import net from 'node:net';
import { LineSplitter } from './line-splitter.js';
import { normalisePeer, type RecordSink } from './record-sink.js';
import type { PeerAllowlist } from './allowlist.js';

export interface TcpSourceOptions {
  host: string;
  port: number;
  maxLineBytes: number;
  maxConnections: number;
  /** 0 disables. */
  idleTimeoutMs: number;
  allowlist: PeerAllowlist;
}

export class TcpSource {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections refused by max_connections or the allowlist. */
  refused = 0;

  constructor(
    private readonly opts: TcpSourceOptions,
    private readonly sink: RecordSink,
  ) {}

  get connections(): number {
    return this.sockets.size;
  }

  listen(): Promise<number> {
    const server = net.createServer({ noDelay: true }, (s) => this.accept(s));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  private accept(socket: net.Socket): void {
    const peer = normalisePeer(socket.remoteAddress);
    if (this.sockets.size >= this.opts.maxConnections || !this.opts.allowlist.allows(peer)) {
      this.refused++;
      if (!this.opts.allowlist.allows(peer)) this.sink.reject('not_allowed', peer, 'tcp');
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const sink = this.sink;
    let receivedMs = 0;
    const splitter = new LineSplitter(this.opts.maxLineBytes, {
      line: (text) => sink.record(text, peer, 'tcp', receivedMs),
      reject: (reason) => sink.reject(reason, peer, 'tcp'),
    });
    if (this.opts.idleTimeoutMs > 0) {
      socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    }
    socket.on('data', (chunk: Buffer) => {
      receivedMs = Date.now();
      sink.bytes(chunk.length, 'tcp');
      splitter.push(chunk);
    });
    // A peer reset is routine (Talos redials every second); nothing to report.
    socket.on('error', () => {});
    socket.on('close', () => {
      splitter.end();
      this.sockets.delete(socket);
    });
  }

  /** Stop accepting and close every connection; buffered fragments are counted. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
