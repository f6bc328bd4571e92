/** Talos json_lines over UDP: one JSON record per datagram, no trailing newline. */
import dgram from 'node:dgram';
import { isUtf8 } from 'node:buffer';
import { normalisePeer, type RecordSink } from './ingest-target.js';
import type { PeerAllowlist } from './allowlist.js';

export interface UdpSourceOptions {
  host: string;
  port: number;
  allowlist: PeerAllowlist;
}

export class UdpSource {
  private socket: dgram.Socket | undefined;

  constructor(
    private readonly opts: UdpSourceOptions,
    private readonly sink: RecordSink,
  ) {}

  listen(): Promise<number> {
    const type = this.opts.host.includes(':') ? 'udp6' : 'udp4';
    // A large receive buffer absorbs bursts (kernel ring-buffer replay on connect).
    const socket = dgram.createSocket({ type, recvBufferSize: 8 * 1024 * 1024 });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.datagram(msg, normalisePeer(rinfo.address)));
    socket.on('error', () => {});
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port, this.opts.host, () => {
        socket.off('error', reject);
        resolve(socket.address().port);
      });
    });
  }

  private datagram(msg: Buffer, peer: string): void {
    const sink = this.sink;
    sink.bytes(msg.length, 'udp');
    if (!this.opts.allowlist.allows(peer)) return sink.reject('not_allowed', peer, 'udp');
    let end = msg.length;
    // Tolerate senders that add a newline anyway.
    while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d)) end--;
    if (end === 0) return sink.reject('empty', peer, 'udp');
    const text = msg.toString('utf8', 0, end);
    if (text.indexOf('\uFFFD') !== -1 && !isUtf8(msg.subarray(0, end))) return sink.reject('invalid_utf8', peer, 'udp');
    sink.record(text, peer, 'udp', Date.now());
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
