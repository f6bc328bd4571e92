/**
 * Plays generated records to a receiver the way Talos nodes send them:
 * TCP — one connection per node per stream (kernel and service streams are
 * separate senders in Talos), each record one write ending in `\n`; UDP —
 * one datagram per record, no newline. Paced to the records' event times
 * (so ratePerSec holds on the wall clock) and always bounded in count and
 * time. Loopback only: on Linux each node sends from its own 127.x address,
 * so a receiver sees distinct peers (the `host` label) as with real nodes.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { records, type GeneratorOptions, type TalosStreamKind } from './records.js';

export interface TrafficTarget {
  host: '127.0.0.1';
  port: number;
  proto: 'tcp' | 'udp';
}

export interface SendOptions extends GeneratorOptions {
  /** Bind each node's sockets to its own loopback address 127.10.x.y (default: true on Linux). */
  distinctSourceAddresses?: boolean;
  /** Hard stop on the wall clock (default: the traffic's duration × 2 + 10 s). */
  timeoutMs?: number;
}

export interface SendResult {
  /** Records fully handed to the socket. */
  sent: number;
  /** Bytes written (including TCP newlines). */
  bytes: number;
  /** Records dropped because their connection was down (Talos drops them too while redialing). */
  dropped: number;
}

/** Talos redials a failed destination after a fixed 1 s. */
const REDIAL_MS = 1000;
/** Send whatever is due, then sleep at most this long. */
const TICK_MS = 5;

/** Source address for a node: 127.10.a.b, never 127.0.0.1. */
export function nodeSourceAddress(node: number): string {
  const n = node + 1;
  return `127.10.${(n >> 8) & 255}.${n & 255}`;
}

/** Wait for `p`, but no longer than `ms` (and leave no timer behind). */
async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  clearTimeout(timer);
}

function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1';
}

interface Channel {
  write(payload: string): boolean;
  /** Resolves when the channel can take more (TCP drain) or is dead. */
  waitWritable(): Promise<void>;
  close(): Promise<void>;
  alive(): boolean;
}

function tcpChannel(target: TrafficTarget, localAddress: string | undefined): Channel {
  let sock: net.Socket | undefined;
  let dead = false;
  let deadSince = 0;
  let connecting: Promise<void> | undefined;
  const dial = (): void => {
    dead = false;
    const s = net.connect({ host: target.host, port: target.port, ...(localAddress === undefined ? {} : { localAddress }) });
    s.setNoDelay(true);
    sock = s;
    connecting = new Promise((resolve) => {
      s.once('connect', () => resolve());
      s.once('close', () => resolve());
    });
    s.on('error', () => {
      dead = true;
      deadSince = Date.now();
    });
    s.on('close', () => {
      if (sock === s) {
        dead = true;
        deadSince = deadSince || Date.now();
      }
    });
    // Receivers never answer; drain anyway so nothing piles up.
    s.on('data', () => undefined);
  };
  dial();
  return {
    write(payload) {
      if (dead) {
        if (Date.now() - deadSince < REDIAL_MS) return false;
        deadSince = 0;
        dial();
      }
      if (sock === undefined || sock.destroyed) return false;
      sock.write(payload);
      return true;
    },
    async waitWritable() {
      if (connecting !== undefined) await connecting;
      const s = sock;
      if (s === undefined || dead || !s.writableNeedDrain) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          s.off('drain', done);
          s.off('close', done);
          resolve();
        };
        s.once('drain', done);
        s.once('close', done);
      });
    },
    async close() {
      const s = sock;
      if (s === undefined || s.destroyed) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, 2000);
        s.end(() => {
          clearTimeout(t);
          resolve();
        });
      });
      s.destroy();
    },
    alive: () => !dead,
  };
}

function udpChannel(target: TrafficTarget, localAddress: string | undefined): Channel {
  const sock = dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
  let failed = false;
  sock.on('error', () => {
    failed = true;
  });
  const ready = new Promise<void>((resolve) => {
    sock.bind({ port: 0, ...(localAddress === undefined ? {} : { address: localAddress }) }, () => {
      sock.connect(target.port, target.host, () => resolve());
    });
    sock.once('error', () => resolve());
  });
  let pending = 0;
  return {
    write(payload) {
      if (failed) return false;
      pending++;
      ready.then(() => {
        if (failed) return;
        sock.send(payload, () => {
          pending--;
        });
      }, () => undefined);
      return true;
    },
    async waitWritable() {
      await ready;
    },
    async close() {
      await ready;
      // Let queued datagrams leave before closing (bounded).
      const until = Date.now() + 2000;
      while (pending > 0 && Date.now() < until && !failed) await new Promise((r) => setTimeout(r, 5));
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    },
    alive: () => !failed,
  };
}

/**
 * Send generated traffic to a loopback receiver. Requires durationMs and/or
 * maxLines; stops at whichever bound comes first, and at timeoutMs regardless.
 */
export async function sendTalosTraffic(target: TrafficTarget, opts: SendOptions): Promise<SendResult> {
  if (!isLoopback(target.host)) throw new Error(`sendTalosTraffic: refusing non-loopback host ${JSON.stringify(target.host)}`);
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new RangeError(`sendTalosTraffic: bad port ${target.port}`);
  if (opts.durationMs === undefined && opts.maxLines === undefined) throw new Error('sendTalosTraffic: durationMs and/or maxLines is required');

  const startTimeMs = opts.startTimeMs ?? Date.now();
  const plannedMs = opts.durationMs ?? Math.ceil(((opts.maxLines ?? 0) / opts.ratePerSec) * 1000);
  const timeoutMs = opts.timeoutMs ?? plannedMs * 2 + 10_000;
  const distinct = opts.distinctSourceAddresses ?? process.platform === 'linux';

  const channels = new Map<string, Channel>();
  const channelFor = (node: number, stream: TalosStreamKind): Channel => {
    const key = `${node}/${stream}`;
    let ch = channels.get(key);
    if (ch === undefined) {
      const local = distinct ? nodeSourceAddress(node) : undefined;
      ch = target.proto === 'tcp' ? tcpChannel(target, local) : udpChannel(target, local);
      channels.set(key, ch);
    }
    return ch;
  };

  const result: SendResult = { sent: 0, bytes: 0, dropped: 0 };
  const wallStart = Date.now();
  const deadline = wallStart + timeoutMs;
  const newline = target.proto === 'tcp' ? '\n' : '';
  try {
    for (const rec of records({ ...opts, startTimeMs })) {
      // Pace: a record leaves when the wall clock reaches its event-time offset.
      const dueAt = wallStart + (rec.timeMs - startTimeMs);
      let now = Date.now();
      if (now >= deadline) break;
      if (dueAt > now + TICK_MS) {
        await new Promise((r) => setTimeout(r, Math.min(dueAt - now, deadline - now)));
        now = Date.now();
        if (now >= deadline) break;
      }
      const ch = channelFor(rec.node, rec.stream);
      const payload = rec.json + newline;
      if (ch.write(payload)) {
        result.sent++;
        result.bytes += Buffer.byteLength(payload);
      } else {
        result.dropped++;
      }
      // Yield to the event loop now and then so sockets connect, drain and flush.
      if ((result.sent + result.dropped) % 256 === 0) {
        await withTimeout(ch.waitWritable(), deadline - Date.now());
      }
    }
  } finally {
    await Promise.all([...channels.values()].map((c) => c.close()));
  }
  return result;
}
