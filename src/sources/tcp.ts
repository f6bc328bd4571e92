/**
 * Talos json_lines over TCP: one connection per node per stream, newline
 * framed, no handshake. Sockets are never paused: a receiver that stops reading
 * stalls the whole node's log shipping (Talos waits on every destination).
 *
 * At max_connections a newcomer is not simply refused: that would let anyone
 * who opens enough idle (or slowloris) connections lock every node out. The
 * oldest connection that has not delivered a single complete line yet is
 * closed to make room. Talos writes a record as soon as it connects, so a node
 * is past that point within milliseconds and is never the one closed; only
 * when every connection has delivered lines is the newcomer refused.
 */
import net from 'node:net';
import { LineSplitter } from './line-splitter.js';
import { normalisePeer, type RecordSink } from './ingest-target.js';
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
  /** Open connections that have not delivered a complete line yet, oldest first (a Set keeps insertion order). */
  private readonly silent = new Set<net.Socket>();
  /** Connections refused by max_connections or the allowlist. */
  refused = 0;
  /** Of those, refused because max_connections was reached and no silent connection could make room. */
  refusedAtLimit = 0;
  /** Silent connections closed to make room for a newcomer at max_connections. */
  evicted = 0;

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
    if (!this.opts.allowlist.allows(peer)) {
      this.refused++;
      this.sink.reject('not_allowed', peer, 'tcp');
      socket.destroy();
      return;
    }
    if (this.sockets.size >= this.opts.maxConnections && !this.evictSilent()) {
      this.refused++;
      this.refusedAtLimit++;
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    this.silent.add(socket);
    const sink = this.sink;
    const silent = this.silent;
    let receivedMs = 0;
    let delivered = false;
    const splitter = new LineSplitter(this.opts.maxLineBytes, {
      line: (text) => {
        if (!delivered) {
          delivered = true;
          silent.delete(socket);
        }
        sink.record(text, peer, 'tcp', receivedMs);
      },
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
      this.silent.delete(socket);
    });
  }

  /** Close the oldest connection that never delivered a line; false when every connection has. */
  private evictSilent(): boolean {
    const victim = this.silent.values().next().value;
    if (victim === undefined) return false;
    // Free the slot now; the victim's close handler still counts its buffered fragment.
    this.silent.delete(victim);
    this.sockets.delete(victim);
    this.evicted++;
    victim.destroy();
    return true;
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
