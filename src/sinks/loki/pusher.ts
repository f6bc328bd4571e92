/**
 * Forwards every LogEvent to Loki: batches by size and wait, encodes once
 * (protobuf+snappy or JSON+gzip), sends one request at a time with retries,
 * and spools to disk while Loki is unreachable. `handle` is the bus
 * subscriber: constant work per line, never blocks, never throws, and memory
 * stays bounded whatever Loki does.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Registry } from '../../metrics/registry.js';
import type { LogEvent } from '../../log-event.js';
import { OpenBatch } from './batch.js';
import { encodeBatch } from './encode.js';
import { LokiMetrics } from './metrics.js';
import { BatchQueue } from './queue.js';
import { Sender } from './sender.js';
import { Spool } from './spool.js';
import { LokiTransport } from './transport.js';

/** `stopping`: draining, lines still accepted; `stopped`: lines are counted as dropped. */
export type PusherState = 'created' | 'running' | 'stopping' | 'stopped';

export interface LokiPusherDeps {
  registry: Registry;
  logger: Logger;
  now?: () => number;
}

/** Default bound for stop(): inside Kubernetes' 30 s grace period with room for the rest of shutdown. */
const DEFAULT_STOP_TIMEOUT_MS = 5000;

export class LokiPusher {
  private state: PusherState = 'created';
  private readonly logger: Logger;
  private readonly metrics: LokiMetrics;
  private readonly transport: LokiTransport;
  private readonly queue: BatchQueue;
  private readonly sender: Sender;
  private spool: Spool | undefined;

  private open: OpenBatch;
  private batchTimer: NodeJS.Timeout | undefined;
  /** Sealed batches waiting for (or in) encoding; encoded in order on this chain. */
  private encoding: Promise<void> = Promise.resolve();
  private encodingBytes = 0;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly cfg: Config['loki'],
    deps: LokiPusherDeps,
  ) {
    if (cfg.url === '') throw new Error('LokiPusher: loki.url is empty');
    this.logger = deps.logger;
    this.transport = new LokiTransport(cfg);
    this.open = new OpenBatch(cfg.structuredMetadata);
    this.metrics = new LokiMetrics(deps.registry, {
      bufferBytes: () => this.open.bytes + this.encodingBytes + this.queue.memoryBytes,
      spoolBytes: () => this.spool?.bytes ?? 0,
      spoolSegments: () => this.spool?.segmentCount ?? 0,
    });
    this.queue = new BatchQueue({
      maxMemoryBytes: cfg.maxBufferBytes,
      onDrop: (lines, reason) => this.metrics.drop(lines, reason),
      onPush: () => this.sender.wake.notify(),
    });
    this.sender = new Sender(this.queue, this.transport, {
      maxRetries: cfg.maxRetries,
      minBackoffMs: cfg.minBackoffMs,
      maxBackoffMs: cfg.maxBackoffMs,
      logger: this.logger,
      metrics: this.metrics,
      now: deps.now ?? Date.now,
    });
  }

  /** Bus subscriber. Events handed in before start() are batched and sent once started. */
  handle(ev: LogEvent): void {
    if (this.state === 'stopped') {
      this.metrics.drop(1, 'shutdown');
      return;
    }
    const b = this.open;
    b.add(ev);
    if (b.lines === 1) {
      this.batchTimer = setTimeout(() => this.seal(), this.cfg.batchWaitMs);
      this.batchTimer.unref();
    }
    if (b.bytes >= this.cfg.batchBytes) this.seal();
  }

  /** Read credentials, open the spool (what a previous run left is sent first), start sending. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    await this.transport.init();
    if (this.cfg.spoolDir !== '') {
      const spool = new Spool({
        dir: this.cfg.spoolDir,
        maxBytes: this.cfg.spoolMaxBytes,
        logger: this.logger,
        onDrop: (lines, reason) => this.metrics.drop(lines, reason),
        onCorrupt: () => this.metrics.spoolCorrupt.inc(),
      });
      await spool.open();
      if (!spool.isEmpty) this.logger.info({ dir: this.cfg.spoolDir, bytes: spool.bytes, segments: spool.segmentCount }, 'loki spool: replaying batches from a previous run');
      this.spool = spool;
      this.queue.attachSpool(spool);
    }
    this.state = 'running';
    this.sender.start();
    this.logger.info({ url: this.transport.endpoint, format: this.cfg.format, spool: this.cfg.spoolDir || undefined }, 'loki pusher started');
  }

  /**
   * Flush what is in memory while Loki answers, then stop; whatever is left
   * goes to the spool (or is counted as dropped). Bounded by `timeoutMs`
   * plus the time to write the leftovers to disk.
   */
  stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.stopped ??= this.doStop(opts.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    return this.stopped;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    const wasRunning = this.state === 'running';
    // Lines keep being accepted while the backlog drains; only the final seal below closes the door.
    this.state = 'stopping';
    const deadline = Date.now() + timeoutMs;
    this.seal();
    await this.encoding;
    if (wasRunning) {
      await this.sender.drain(deadline);
      await this.sender.halt();
    }
    this.state = 'stopped';
    this.seal();
    await this.encoding;
    if (this.queue.memoryLength > 0) {
      if (this.spool !== undefined) this.queue.spill();
      else this.metrics.drop(this.queue.clearMemory(), 'shutdown');
    }
    await this.spool?.close();
    this.transport.close();
    this.logger.info({ spooledBytes: this.spool?.bytes ?? 0 }, 'loki pusher stopped');
  }

  /** Close the open batch and queue it for encoding (off the caller's stack). */
  private seal(): void {
    if (this.batchTimer !== undefined) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    const batch = this.open;
    if (batch.lines === 0) return;
    this.open = new OpenBatch(this.cfg.structuredMetadata);
    this.encodingBytes += batch.bytes;
    this.encoding = this.encoding
      .then(() => encodeBatch(batch, this.cfg.format, this.cfg.structuredMetadata))
      .then(
        (encoded) => this.queue.push(encoded),
        (err: unknown) => {
          this.logger.error({ err, lines: batch.lines }, 'loki: cannot encode a batch');
          this.metrics.drop(batch.lines, 'encode_error');
        },
      )
      .finally(() => {
        this.encodingBytes -= batch.bytes;
      });
  }
}
