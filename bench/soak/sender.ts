/**
 * Soak traffic, as a forked child: the generator's Talos records at a steady
 * rate over TCP, one connection per node per stream from the node's own
 * 127.10.x.y address, with BTRFS failures injected periodically. Each record
 * carries a `soak_seq` field (it reaches Loki as structured metadata), so the
 * receiving end can tell lost and duplicated lines apart.
 *
 * Connections behave like Talos's: a record for a connection that is down is
 * dropped (and counted), and a dead connection is redialled after a fixed 1 s.
 * The parent can pause the traffic (lines already written are flushed to the
 * kernel before `paused` is answered) and resume it; paused time does not
 * count, so the rate holds over the active time.
 */
import net from 'node:net';
import { nodeSourceAddress, records, type FailureInjection } from '../../src/traffic/index.js';

export interface SenderConfig {
  port: number;
  ratePerSec: number;
  nodes: number;
  seed: number;
  /** Inject a `btrfs-transid` failure this often (ms), on successive nodes. */
  btrfsEveryMs: number;
  /** Upper bound on the traffic's active time (the parent stops it earlier). */
  maxActiveMs: number;
}

export type SenderCmd = { cmd: 'start'; config: SenderConfig } | { cmd: 'pause' } | { cmd: 'resume' } | { cmd: 'stop' } | { cmd: 'exit' };

export interface SenderStats {
  /** Records handed to a live connection. */
  sent: number;
  /** Records dropped because their connection was down (as Talos drops them). */
  dropped: number;
  /** Records dropped because their connection had more than BACKLOG_BYTES unsent (the receiver stopped reading). */
  droppedBacklog: number;
  bytes: number;
  /** Sequence numbers used so far: every record got one, sent or dropped. */
  nextSeq: number;
  /** BTRFS lines handed to a live connection. */
  btrfsSent: number;
  dials: number;
  activeMs: number;
}

export type SenderEv = { ev: 'started' } | { ev: 'paused'; stats: SenderStats } | { ev: 'stopped'; stats: SenderStats } | { ev: 'error'; message: string };

const TICK_MS = 5;
const REDIAL_MS = 1000;
/** Per connection: beyond this much unsent data the receiver is not reading; drop rather than buffer. */
const BACKLOG_BYTES = 16 * 1024 * 1024;
const BTRFS = 'parent transid verify failed';

class Connection {
  private sock: net.Socket | undefined;
  private deadSince = 0;
  private batch = '';

  constructor(
    private readonly port: number,
    private readonly localAddress: string,
    private readonly stats: SenderStats,
  ) {}

  /** Queue a line for this tick: `down` when the connection is not up (the line is dropped, as Talos drops it). */
  add(line: string): 'queued' | 'down' | 'backlog' {
    const s = this.live();
    if (s === undefined || s.connecting) return 'down';
    if (s.writableLength > BACKLOG_BYTES) return 'backlog';
    this.batch += line;
    this.batch += '\n';
    return 'queued';
  }

  flush(): void {
    if (this.batch === '') return;
    const s = this.sock;
    if (s !== undefined && !s.destroyed) {
      this.stats.bytes += Buffer.byteLength(this.batch);
      s.write(this.batch);
    }
    this.batch = '';
  }

  get unsent(): number {
    return this.sock === undefined || this.sock.destroyed ? 0 : this.sock.writableLength;
  }

  close(): Promise<void> {
    const s = this.sock;
    if (s === undefined || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, 3000);
      s.end(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private live(): net.Socket | undefined {
    const s = this.sock;
    if (s !== undefined && !s.destroyed && !s.closed) return s;
    if (s !== undefined && this.deadSince === 0) this.deadSince = Date.now();
    if (s !== undefined && Date.now() - this.deadSince < REDIAL_MS) return undefined;
    // (Re)dial. Like Talos, the record that triggers the dial is written once connected.
    this.deadSince = 0;
    this.stats.dials++;
    const next = net.connect({ host: '127.0.0.1', port: this.port, localAddress: this.localAddress });
    next.setNoDelay(true);
    next.on('error', () => {
      if (this.deadSince === 0) this.deadSince = Date.now();
    });
    next.on('close', () => {
      if (this.deadSince === 0) this.deadSince = Date.now();
    });
    next.on('data', () => undefined);
    this.sock = next;
    return next;
  }
}

export async function runSender(cfg: SenderConfig, control: { paused: () => boolean; stopped: () => boolean; onPausedFlushed: (stats: SenderStats) => void }): Promise<SenderStats> {
  const stats: SenderStats = { sent: 0, dropped: 0, droppedBacklog: 0, bytes: 0, nextSeq: 0, btrfsSent: 0, dials: 0, activeMs: 0 };
  const failures: FailureInjection[] = [];
  for (let at = cfg.btrfsEveryMs / 2, i = 0; at < cfg.maxActiveMs; at += cfg.btrfsEveryMs, i++) failures.push({ atMs: at, kind: 'btrfs-transid', node: i % cfg.nodes });
  const gen = records({ nodes: cfg.nodes, ratePerSec: cfg.ratePerSec, durationMs: cfg.maxActiveMs, seed: cfg.seed, startTimeMs: Date.now(), failures })[Symbol.iterator]();
  const conns = new Map<string, Connection>();
  const connFor = (node: number, stream: string): Connection => {
    const key = `${node}/${stream}`;
    let c = conns.get(key);
    if (c === undefined) {
      c = new Connection(cfg.port, nodeSourceAddress(node), stats);
      conns.set(key, c);
    }
    return c;
  };

  let activeMs = 0;
  let last = Date.now();
  let wasPaused = false;
  while (!control.stopped() && activeMs < cfg.maxActiveMs) {
    await new Promise((r) => setTimeout(r, TICK_MS));
    const now = Date.now();
    if (control.paused()) {
      if (!wasPaused) {
        wasPaused = true;
        // Everything handed to the sockets leaves for the kernel before we say so (bounded).
        const until = Date.now() + 10_000;
        while ([...conns.values()].some((c) => c.unsent > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        stats.activeMs = activeMs;
        control.onPausedFlushed({ ...stats });
      }
      last = Date.now();
      continue;
    }
    wasPaused = false;
    activeMs += now - last;
    last = now;
    const due = Math.floor((activeMs * cfg.ratePerSec) / 1000);
    // Failure bursts come on top of the rate: take records until the rate's count is reached.
    while (stats.nextSeq < due) {
      const next = gen.next();
      if (next.done === true) break;
      const rec = next.value;
      const line = `{"soak_seq":${stats.nextSeq++},${rec.json.slice(1)}`;
      const outcome = connFor(rec.node, rec.stream).add(line);
      if (outcome === 'queued') {
        stats.sent++;
        if (rec.stream === 'kernel' && rec.json.includes(BTRFS)) stats.btrfsSent++;
      } else if (outcome === 'down') {
        stats.dropped++;
      } else {
        stats.droppedBacklog++;
      }
    }
    for (const c of conns.values()) c.flush();
  }
  stats.activeMs = activeMs;
  await Promise.all([...conns.values()].map((c) => c.close()));
  return stats;
}

// Forked: drive runSender over IPC.
if (process.send !== undefined) {
  const send = (ev: SenderEv): void => void process.send!(ev);
  let paused = false;
  let stopped = false;
  process.on('message', (m: SenderCmd) => {
    switch (m.cmd) {
      case 'start':
        send({ ev: 'started' });
        runSender(m.config, { paused: () => paused, stopped: () => stopped, onPausedFlushed: (stats) => send({ ev: 'paused', stats }) }).then(
          (stats) => send({ ev: 'stopped', stats }),
          (err: unknown) => send({ ev: 'error', message: (err as Error).stack ?? String(err) }),
        );
        break;
      case 'pause':
        paused = true;
        break;
      case 'resume':
        paused = false;
        break;
      case 'stop':
        stopped = true;
        break;
      case 'exit':
        process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}
