/**
 * Forwards every LogEvent to Loki. With `loki.spool_dir` set, every event is
 * first appended to the write-ahead log (wal.ts): `handle` collects the
 * events of one event-loop turn, and before anything else runs they are
 * written as one frame (write(2) done) and only then batched. Batches are
 * built from memory while the sender keeps up; when memory is full or after
 * a restart they are rebuilt from the log, from the position Loki last
 * acknowledged. So kill -9 loses nothing read, whether Loki is up, down,
 * slow or hanging, and a restart resends at most the batch that was in
 * flight. Without a spool, memory is bounded by dropping the oldest batches
 * (counted). `handle` never blocks and never throws.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Registry } from '../../metrics/registry.js';
import type { LogEvent } from '../../log-event.js';
import { OpenBatch } from './batch.js';
import { encodeBatch } from './encode.js';
import { MetadataPolicy } from './metadata-policy.js';
import { LokiMetrics } from './metrics.js';
import { BatchQueue, type QueuedBatch } from './queue.js';
import { Sender, type BatchSource } from './sender.js';
import { LokiTransport } from './transport.js';
import { posBefore, Wal, type WalPos } from './wal.js';
import { FrameWriter } from './wal-record.js';

/** `stopping`: draining, lines still accepted; `stopped`: lines are counted as dropped. */
export type PusherState = 'created' | 'running' | 'stopping' | 'stopped';

export interface LokiPusherDeps {
  registry: Registry;
  logger: Logger;
  now?: () => number;
}

/** Default bound for stop(): inside Kubernetes' 30 s grace period with room for the rest of shutdown. */
const DEFAULT_STOP_TIMEOUT_MS = 5000;

export class LokiPusher implements BatchSource {
  private state: PusherState = 'created';
  private readonly logger: Logger;
  private readonly metrics: LokiMetrics;
  private readonly transport: LokiTransport;
  private readonly queue: BatchQueue;
  private readonly sender: Sender;
  private readonly policy: MetadataPolicy;
  private readonly wal: Wal | undefined;

  private open = new OpenBatch();
  private batchTimer: NodeJS.Timeout | undefined;
  /** Sealed batches waiting for (or in) encoding; encoded in order on this chain. */
  private encoding: Promise<void> = Promise.resolve();
  private encodingBytes = 0;
  private stopped: Promise<void> | undefined;

  // Write-ahead log state.
  private readonly frame = new FrameWriter();
  private pending: LogEvent[] = [];
  /** Handed in before start() (with a log). */
  private early: LogEvent[] = [];
  private flushQueued = false;
  /** New events are batched from memory (true) or left in the log to be read back (catching up). */
  private live = true;
  /** Catching up: where the next read from the log starts. */
  private readPos: WalPos | undefined;
  /** Log end of the last batch handed to the sender (where a catch-up starts). */
  private takenEnd: WalPos | undefined;
  /** Bumped when memory is given up for the log: encodes started before are discarded. */
  private generation = 0;
  private frameLimit = Number.POSITIVE_INFINITY;

  constructor(
    private readonly cfg: Config['loki'],
    deps: LokiPusherDeps,
  ) {
    if (cfg.url === '') throw new Error('LokiPusher: loki.url is empty');
    this.logger = deps.logger;
    this.transport = new LokiTransport(cfg);
    this.metrics = new LokiMetrics(deps.registry, {
      bufferBytes: () => this.open.bytes + this.encodingBytes + this.queue.memoryBytes,
      spoolBytes: () => this.wal?.bytes ?? 0,
      spoolSegments: () => this.wal?.segmentCount ?? 0,
      spoolPendingBytes: () => this.wal?.pendingBytes ?? 0,
    });
    this.policy = new MetadataPolicy(cfg.structuredMetadata, () => this.metrics.metadataTrimmed.inc());
    this.metrics.metadataSending.set(this.policy.sending ? 1 : 0);
    if (cfg.spoolDir !== '') {
      this.wal = new Wal({
        dir: cfg.spoolDir,
        maxBytes: cfg.spoolMaxBytes,
        logger: this.logger,
        onDrop: (lines, reason) => this.metrics.drop(lines, reason),
        onCorrupt: () => this.metrics.spoolCorrupt.inc(),
      });
    }
    this.queue = new BatchQueue({
      maxMemoryBytes: cfg.maxBufferBytes,
      onOverflow: () => this.overflow(),
      onPush: () => this.sender.wake.notify(),
    });
    this.sender = new Sender(this, this.transport, {
      maxRetries: cfg.maxRetries,
      minBackoffMs: cfg.minBackoffMs,
      maxBackoffMs: cfg.maxBackoffMs,
      retryMaxTimeMs: cfg.retryMaxTimeMs,
      durable: this.wal !== undefined,
      maxAsideBytes: Math.max(cfg.batchBytes, Math.floor(cfg.maxBufferBytes / 4)),
      policy: this.policy,
      logger: this.logger,
      metrics: this.metrics,
      now: deps.now ?? Date.now,
    });
  }

  /** Bus subscriber. Events handed in before start() are kept and sent once started. */
  handle(ev: LogEvent): void {
    if (this.state === 'stopped') {
      this.metrics.drop(1, 'shutdown');
      return;
    }
    if (this.wal === undefined) {
      this.addToBatch(ev);
      return;
    }
    if (this.state === 'created') {
      this.early.push(ev); // logged (then batched) once start() has opened the log
      return;
    }
    this.frame.add(ev);
    this.pending.push(ev);
    if (this.frame.bytes >= this.frameLimit || this.frame.full) {
      this.flushLog(); // a burst: cut it into several frames (bounded memory, and batches near batch_size)
      return;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      // Runs as soon as the current callback (one socket read's worth of lines) returns, before any timer or I/O.
      queueMicrotask(() => {
        this.flushQueued = false;
        this.flushLog();
      });
    }
  }

  /** Read credentials, open the log (what a previous run left unacknowledged is sent first), start sending. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    await this.transport.init();
    if (this.wal !== undefined) {
      this.wal.open();
      this.frameLimit = Math.min(this.cfg.batchBytes, this.wal.frameBytesHint);
      if (!this.wal.drained) {
        this.live = false;
        this.readPos = this.wal.acked;
        this.logger.info({ dir: this.cfg.spoolDir, bytes: this.wal.bytes, segments: this.wal.segmentCount }, 'loki spool: resending what Loki had not acknowledged');
      }
      // Lines handed in before start go into the log like every other line.
      this.state = 'running';
      const early = this.early;
      this.early = [];
      for (const ev of early) this.handle(ev);
      this.flushLog();
    }
    this.state = 'running';
    this.sender.start();
    this.logger.info({ url: this.transport.endpoint, format: this.cfg.format, spool: this.cfg.spoolDir || undefined }, 'loki pusher started');
  }

  /**
   * Flush what is in memory while Loki answers, then stop. With a log
   * nothing is lost (the next start resends what Loki did not acknowledge);
   * without one, what is left is counted as dropped. Bounded by `timeoutMs`.
   */
  stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.stopped ??= this.doStop(opts.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    return this.stopped;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    const wasRunning = this.state === 'running';
    const wasStarted = this.state !== 'created';
    this.state = 'stopping';
    const deadline = Date.now() + timeoutMs;
    this.flushLog();
    this.seal();
    await this.encoding;
    let left: QueuedBatch[] = [];
    if (wasRunning) {
      await this.sender.drain(deadline);
      left = await this.sender.halt();
    }
    this.flushLog();
    this.state = 'stopped';
    this.seal();
    await this.encoding;
    if (this.wal === undefined) {
      let lines = 0;
      const seen = new Set<QueuedBatch>();
      for (const b of left) {
        seen.add(b);
        lines += b.lines;
      }
      for (const b of this.queue.dropOldest(-1)) if (!seen.has(b)) lines += b.lines;
      const h = this.queue.head();
      if (h !== undefined && !seen.has(h)) lines += h.lines;
      this.metrics.drop(lines, 'shutdown');
    } else {
      // Streams set aside for a per-stream limit live in memory only (their log position is acknowledged).
      let aside = 0;
      for (const b of left) if (b.aside) aside += b.lines;
      this.metrics.drop(aside, 'stream_limited');
      // Never started: the log was never opened, and what was handed in never reached it.
      this.metrics.drop(this.early.length, 'shutdown');
      this.early = [];
      if (wasStarted) this.wal.close();
    }
    this.transport.close();
    this.logger.info({ spooledBytes: this.wal?.bytes ?? 0 }, 'loki pusher stopped');
  }

  // ------------------------------------------------------------ BatchSource

  /** Batches in memory. A catch-up from the log is not waited for at stop: the log keeps it for the next start. */
  get backlog(): number {
    return this.queue.length;
  }

  async next(): Promise<QueuedBatch | undefined> {
    const b = this.queue.head();
    if (b !== undefined) {
      if (b.walEnd !== undefined) this.takenEnd = b.walEnd;
      return b;
    }
    const wal = this.wal;
    if (wal === undefined || this.live) return undefined;
    for (;;) {
      const from = this.readPos ?? wal.acked;
      const r = await wal.read(from, this.cfg.batchBytes);
      if (this.live) return this.queue.head(); // a concurrent switch (cannot happen with one sender; kept for safety)
      this.readPos = r.end;
      if (r.events.length === 0) {
        if (posBefore(r.end, wal.end)) continue; // skipped a bad region; more to read
        // Caught up: from here new events are batched from memory again.
        this.live = true;
        this.readPos = undefined;
        this.takenEnd = r.end;
        return undefined;
      }
      const src = new OpenBatch();
      for (const ev of r.events) src.add(ev);
      src.walEnd = r.end;
      this.takenEnd = r.end;
      return this.encodeQueued(src, false, 0);
    }
  }

  done(batch: QueuedBatch, ackLog: boolean): void {
    this.queue.ack(batch);
    if (ackLog && batch.walEnd !== undefined) this.wal?.ack(batch.walEnd);
  }

  rebuild(events: OpenBatch, like: QueuedBatch, aside: boolean): Promise<QueuedBatch> {
    events.walEnd = like.walEnd;
    return this.encodeQueued(events, aside, like.resends + 1);
  }

  // ------------------------------------------------------------ internals

  private async encodeQueued(src: OpenBatch, aside: boolean, resends: number): Promise<QueuedBatch> {
    const enc = await encodeBatch(src, this.cfg.format, this.policy);
    return { ...enc, source: src, walEnd: src.walEnd, aside, resends };
  }

  /** Write the events of this turn to the log, then batch them (unless catching up from the log). */
  private flushLog(): void {
    const wal = this.wal;
    if (wal === undefined || this.frame.events === 0) return;
    const end = wal.append(this.frame.take());
    const evs = this.pending;
    this.pending = [];
    if (!this.live) {
      // Catching up: these are read back from the log, unless they could not be written.
      if (end === undefined) this.metrics.drop(evs.length, 'spool_error');
      return;
    }
    // Not written (disk full or failing): still forwarded from memory, only without the kill -9 guarantee.
    for (const ev of evs) this.addToBatch(ev);
    if (end !== undefined) this.open.walEnd = end;
    if (this.open.bytes >= this.cfg.batchBytes) this.seal();
  }

  private addToBatch(ev: LogEvent): void {
    const b = this.open;
    b.add(ev);
    if (b.lines === 1) {
      this.batchTimer = setTimeout(() => this.seal(), this.cfg.batchWaitMs);
      this.batchTimer.unref();
    }
    // With a log, a batch is sealed only at a frame boundary (its end position must be a frame's end).
    if (this.wal === undefined && b.bytes >= this.cfg.batchBytes) this.seal();
  }

  /** Memory is over loki.max_buffer. */
  private overflow(): void {
    if (this.wal === undefined) {
      let lines = 0;
      for (const b of this.queue.dropOldest(this.cfg.maxBufferBytes)) lines += b.lines;
      this.metrics.drop(lines, 'buffer_full');
      return;
    }
    // Everything is in the log: give memory up and read back from the log once the sender gets there.
    this.generation++;
    this.queue.dropOldest(0);
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.open = new OpenBatch();
    this.live = false;
    const held = this.queue.head(); // the batch in flight, if any
    this.readPos = held?.walEnd ?? this.takenEnd ?? this.wal.acked;
    this.logger.warn({ maxBuffer: this.cfg.maxBufferBytes }, 'loki: backlog over loki.max_buffer; leaving it in the spool and reading it back from there');
  }

  /** Close the open batch and queue it for encoding (off the caller's stack). */
  private seal(): void {
    if (this.batchTimer !== undefined) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    const batch = this.open;
    if (batch.lines === 0) return;
    this.open = new OpenBatch();
    this.encodingBytes += batch.bytes;
    const gen = this.generation;
    this.encoding = this.encoding
      .then(() => this.encodeQueued(batch, false, 0))
      .then(
        (queued) => {
          if (gen === this.generation) this.queue.push(queued); // else given up for the log meanwhile
        },
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

