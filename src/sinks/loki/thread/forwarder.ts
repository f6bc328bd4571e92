/**
 * Loki forwarding as the ingest thread sees it: every record's raw text is
 * copied into this turn's frame (one memcpy, no object per line) and the
 * frame is handed, transferred not copied, to the Loki thread (host.ts) at
 * the end of the turn. Decoding for storage, structured metadata, the
 * write-ahead log, protobuf, snappy, pushes and retries all happen there, so
 * the thread that matches and alerts never pays for them, whatever Loki does.
 *
 * If the Loki thread falls more than `MAX_INFLIGHT_BYTES` of records behind (a CPU too
 * slow for the offered rate; Loki's own health never slows it, that is the
 * pusher's buffer and spool), new records are dropped and counted
 * (`loki_dropped_lines_total{reason="overloaded"}`) rather than slowing
 * alerting. If the thread dies it is restarted; with a spool it resends
 * what Loki had not acknowledged.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigError } from '../../../config/schema.js';
import type { Proto } from '../../../sources/ingest-target.js';
import { LokiHost, type HostPort } from './host.js';
import { RemoteMetrics } from './metrics-proxy.js';
import type { FromHost, HostConfig, MetricJson, ToHost } from './protocol.js';
import { FRAME_SOFT_LIMIT, RecordFrameWriter } from './record-frame.js';

/** Where the Loki pipeline runs: a worker thread (the product), or this thread behind a MessageChannel (tests of TS sources). */
export type LokiThreadMode = 'worker' | 'inline';

/** Record bytes handed over and not yet handled by the Loki thread, beyond which records are dropped (counted). */
export const MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;
const METRICS_TIMEOUT_MS = 5000;
const RESTART_DELAY_MS = 1000;
const YOUNG_GENERATION_MB = 12;
const DROPPED = 'talos_alert_sidecar_loki_dropped_lines_total';

/** The worker entry beside this file; from TS sources (no worker can load .ts) the built one. */
function workerUrl(): URL {
  return new URL('./worker-main.js', import.meta.url);
}

/** A worker can run this module's sibling only when it is built JavaScript. */
export function defaultThreadMode(): LokiThreadMode {
  return import.meta.url.endsWith('.js') ? 'worker' : 'inline';
}

interface Channel {
  port: Pick<HostPort, 'postMessage'>;
  close(): Promise<void>;
}

export interface LokiForwarderDeps {
  registry: Registry;
  logger: Logger;
  mode?: LokiThreadMode;
  /** Override MAX_INFLIGHT_BYTES (tests). */
  maxInflightBytes?: number;
}

export class LokiForwarder {
  private state: 'created' | 'running' | 'stopping' | 'stopped' = 'created';
  private readonly mode: LokiThreadMode;
  private readonly maxInflight: number;
  private readonly logger: Logger;
  private readonly remote: RemoteMetrics;
  private readonly writer: RecordFrameWriter;
  private channel: Channel | undefined;
  private flushQueued = false;
  private inflightBytes = 0;
  /** Records in frames handed over and not yet handed back (lost if the thread dies: counted). */
  private inflightRecords = 0;
  private readonly dropped = new Map<string, number>();
  private nextId = 1;
  private readonly waiting = new Map<number, (m: MetricJson[] | undefined) => void>();
  private started: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private stopped: (() => void) | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly cfg: HostConfig,
    deps: LokiForwarderDeps,
  ) {
    this.mode = deps.mode ?? defaultThreadMode();
    this.maxInflight = deps.maxInflightBytes ?? MAX_INFLIGHT_BYTES;
    this.logger = deps.logger;
    this.writer = new RecordFrameWriter();
    this.remote = new RemoteMetrics(deps.registry, () => this.fetchMetrics());
  }

  get threadMode(): LokiThreadMode {
    return this.mode;
  }

  /** Start the Loki thread; what the pusher refuses at start (credentials, TLS, spool) is a ConfigError. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    await this.open();
    this.state = 'running';
  }

  /** Ingest-thread tap: one record, as received. Never blocks, never throws. */
  record(text: string, peer: string, proto: Proto, receivedMs: number): void {
    if (this.state !== 'running' || this.channel === undefined) {
      this.drop(this.state === 'running' ? 'loki_thread_down' : 'shutdown', 1);
      return;
    }
    if (this.inflightBytes > this.maxInflight) {
      this.drop('overloaded', 1);
      return;
    }
    const w = this.writer;
    w.add(text, peer, proto, receivedMs);
    if (w.bytes >= FRAME_SOFT_LIMIT || w.full) {
      this.flush();
    } else if (!this.flushQueued) {
      this.flushQueued = true;
      // At the end of this event-loop turn: one frame for every socket read of the turn (with
      // many connections each read holds a few lines; a frame per read would cost a message each).
      setImmediate(this.flushTurn);
    }
  }

  /** Hand what is left to the Loki thread, let it flush (bounded by `timeoutMs`), stop it. Idempotent. */
  stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.doStop(opts.timeoutMs ?? 5000);
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.flush();
    const ch = this.channel;
    if (wasRunning && ch !== undefined) {
      const done = new Promise<void>((r) => (this.stopped = r));
      this.post({ t: 'stop', timeoutMs });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs + 2000)))]);
      clearTimeout(timer);
      // The final values (sent with 'stopped') stay served after the thread is gone.
      this.channel = undefined;
      await ch.close();
    }
    this.state = 'stopped';
  }

  // ------------------------------------------------------------ internals

  private readonly flushTurn = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  private flush(): void {
    if (this.writer.records === 0 || this.channel === undefined) return;
    const f = this.writer.take();
    this.inflightBytes += f.len;
    this.inflightRecords += f.records;
    this.post({ t: 'frame', buf: f.buf, len: f.len }, [f.buf]);
  }

  private post(m: ToHost, transfer?: ArrayBuffer[]): void {
    this.channel?.port.postMessage(m, transfer);
  }

  private readonly onMessage = (m: FromHost): void => {
    switch (m.t) {
      case 'done':
        this.inflightBytes -= m.len;
        this.inflightRecords -= m.records;
        break;
      case 'metrics':
        this.waiting.get(m.id)?.(m.metrics);
        this.waiting.delete(m.id);
        break;
      case 'started':
        this.remote.register(m.metrics);
        this.started?.resolve();
        break;
      case 'start_error':
        this.started?.reject(new ConfigError('loki', m.message.replace(/^loki: /, '')));
        break;
      case 'stopped':
        this.remote.register(this.withLocalDrops(m.metrics));
        this.stopped?.();
        break;
    }
  };

  /** Start the Loki thread and wait for its pusher to be running. */
  private async open(): Promise<void> {
    const startedP = new Promise<void>((resolve, reject) => (this.started = { resolve, reject }));
    this.channel = this.mode === 'worker' ? this.openWorker() : this.openInline();
    this.post({ t: 'start' });
    try {
      await startedP;
    } catch (e) {
      const ch = this.channel;
      this.channel = undefined;
      await ch?.close();
      throw e;
    } finally {
      this.started = undefined;
    }
  }

  private openInline(): Channel {
    const { port1, port2 } = new MessageChannel();
    new LokiHost(this.cfg, port2, this.logger);
    port1.on('message', this.onMessage);
    return {
      port: port1,
      close: async () => {
        port1.close();
        port2.close();
      },
    };
  }

  private openWorker(): Channel {
    const w = new Worker(fileURLToPath(workerUrl()), {
      workerData: this.cfg,
      stdout: false,
      stderr: false,
      // Left to grow to V8's default (3 × 16 MiB) the Loki thread's young generation holds ~15 MB
      // more at 100k lines/s, for no throughput (a worker's limit, unlike the main thread's, costs no start-up time).
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    w.on('message', this.onMessage);
    w.on('error', (err) => {
      this.logger.error({ err }, 'loki thread failed');
      this.started?.reject(new ConfigError('loki', `loki thread failed: ${err.message}`));
    });
    w.on('exit', (code) => {
      if (this.channel?.port !== w) return; // closed on purpose
      this.channel = undefined;
      this.drop('loki_thread_down', this.inflightRecords);
      this.inflightBytes = 0;
      this.inflightRecords = 0;
      for (const [, r] of this.waiting) r(undefined);
      this.waiting.clear();
      if (this.state !== 'running') return;
      this.logger.error({ code }, `loki thread exited; restarting in ${RESTART_DELAY_MS} ms (the spool, if any, resends what Loki had not acknowledged)`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.state === 'running') this.open().catch((err: unknown) => this.logger.error({ err }, 'loki thread restart failed'));
      }, RESTART_DELAY_MS);
      this.restartTimer.unref();
    });
    return {
      port: w,
      close: async () => {
        await w.terminate();
      },
    };
  }

  private fetchMetrics(): Promise<MetricJson[] | undefined> {
    const local = (ms: MetricJson[] | undefined): MetricJson[] | undefined => ms && this.withLocalDrops(ms);
    if (this.channel === undefined) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise<MetricJson[] | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.waiting.set(id, (ms) => {
        clearTimeout(timer);
        resolve(ms);
      });
      this.post({ t: 'metrics', id });
    }).then(local);
  }

  /** Lines dropped on this side of the hand-over, added to the Loki thread's own drop counter. */
  private withLocalDrops(ms: MetricJson[]): MetricJson[] {
    const d = ms.find((m) => m.name === DROPPED);
    if (d === undefined || this.dropped.size === 0) return ms;
    for (const [reason, n] of this.dropped) {
      const v = d.values.find((x) => x.labels.reason === reason);
      if (v !== undefined) v.value += n;
      else d.values.push({ value: n, labels: { reason } });
    }
    return ms;
  }

  private drop(reason: string, n: number): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
  }
}
