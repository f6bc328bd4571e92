/**
 * The one send loop: takes the queue's head, pushes it, and on failure
 * retries the same batch with jittered backoff. One request in flight at a
 * time keeps every stream's entries in order. When a batch has failed
 * `maxRetries` times Loki counts as unreachable: the memory backlog moves to
 * the spool (or, without one, the batch is dropped) and the spool head is
 * then retried at the backoff pace until Loki answers again.
 */
import type { Logger } from 'pino';
import { Backoff } from '../backoff.js';
import type { LokiMetrics } from './metrics.js';
import type { BatchQueue, QueuedBatch } from './queue.js';
import { Signal } from './signal.js';
import { rejectedLines, truncate, type LokiTransport } from './transport.js';

export type SenderState = 'idle' | 'sending' | 'backoff' | 'stopped';

export interface SenderOptions {
  maxRetries: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
  metrics: LokiMetrics;
  now: () => number;
}

export class Sender {
  private state: SenderState = 'idle';
  /** Wakes the loop: new batch, or stop. */
  readonly wake = new Signal();
  /** Cuts a backoff sleep short on stop. */
  private readonly stopSignal = new Signal();
  /** Any state change or finished request (for drain()). */
  private readonly changed = new Signal();
  private readonly backoff: Backoff;
  private failures = 0;
  private completed = 0;
  private stopping = false;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly queue: BatchQueue,
    private readonly transport: LokiTransport,
    private readonly opts: SenderOptions,
  ) {
    this.backoff = new Backoff(opts.minBackoffMs, opts.maxBackoffMs);
  }

  get currentState(): SenderState {
    return this.state;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * For shutdown: wait until the memory backlog is sent and no request is in
   * flight, giving up at `deadline` (epoch ms) or as soon as Loki is failing.
   */
  async drain(deadline: number): Promise<void> {
    const startCompleted = this.completed;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.state === 'backoff' || this.state === 'stopped') return;
      const currentDone = this.state !== 'sending' || this.completed > startCompleted;
      if (this.queue.memoryLength === 0 && currentDone) return;
      await this.changed.wait(remaining);
    }
  }

  /** Stop the loop, aborting a request in flight (its batch stays queued). */
  async halt(): Promise<void> {
    this.stopping = true;
    this.abort?.abort();
    this.wake.notify();
    this.stopSignal.notify();
    await this.loop;
    this.setState('stopped');
  }

  private setState(s: SenderState): void {
    this.state = s;
    this.changed.notify();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.wake.clear();
      const batch = await this.queue.head();
      if (this.stopping) break;
      if (batch === undefined) {
        this.setState('idle');
        await this.wake.wait();
        continue;
      }
      this.setState('sending');
      this.abort = new AbortController();
      const started = performance.now();
      const outcome = await this.transport.push(batch, this.abort.signal);
      this.abort = undefined;
      this.completed++;
      const m = this.opts.metrics;
      m.pushDuration.observe((performance.now() - started) / 1000);
      m.requests.labels(outcome.status === undefined ? 'error' : String(outcome.status)).inc();
      if (this.stopping && outcome.kind === 'retry') break; // aborted by stop: the batch stays queued

      switch (outcome.kind) {
        case 'ok':
          this.accepted(batch, batch.lines);
          this.done(batch);
          break;
        case 'reject': {
          const rejected = rejectedLines(outcome.body, batch.lines);
          m.drop(rejected, 'rejected');
          this.opts.logger.warn(
            { status: outcome.status, lines: batch.lines, rejected, response: truncate(outcome.body, 1000) },
            'loki rejected a push; not retrying it',
          );
          // Loki stores the valid entries of a partly rejected push, so re-sending it whole would duplicate them.
          if (rejected < batch.lines) this.accepted(batch, batch.lines - rejected);
          this.done(batch);
          break;
        }
        case 'retry':
          await this.failed(batch, outcome.reason);
          break;
      }
    }
    this.setState('stopped');
  }

  /** Loki stored `lines` of the batch. */
  private accepted(batch: QueuedBatch, lines: number): void {
    const m = this.opts.metrics;
    m.linesSent.inc(lines);
    m.bytesSent.inc(batch.body.length);
    m.batchesSent.inc();
    m.lastSuccess.set(this.opts.now() / 1000);
  }

  /** Loki answered for the batch (stored or refused it): it leaves the queue, and the next one starts afresh. */
  private done(batch: QueuedBatch): void {
    if (this.failures > 0) this.opts.logger.info({ failures: this.failures }, 'loki reachable again');
    this.failures = 0;
    this.backoff.reset();
    this.queue.ack(batch);
  }

  private async failed(batch: QueuedBatch, reason: string): Promise<void> {
    this.failures++;
    // With a spool, the first failure moves the backlog to disk: lines held in
    // memory through minutes of backoff would be lost to a kill -9.
    const giveUp = !this.queue.spooling && (this.queue.hasSpool || this.failures >= Math.max(1, this.opts.maxRetries));
    if (giveUp && this.queue.hasSpool) {
      this.opts.logger.warn({ failures: this.failures, reason }, 'loki unreachable; spooling to disk until it answers');
      this.queue.spill();
    } else if (giveUp) {
      this.opts.logger.error({ failures: this.failures, reason, lines: batch.lines }, 'loki unreachable; dropping a batch (no spool configured)');
      this.opts.metrics.drop(batch.lines, 'retries_exhausted');
      this.queue.ack(batch);
      this.failures = 0;
      this.backoff.reset();
      return;
    } else {
      this.opts.logger.warn({ failures: this.failures, reason }, 'loki push failed; will retry');
    }
    this.opts.metrics.retries.inc();
    const delay = this.backoff.next();
    this.setState('backoff');
    await this.stopSignal.wait(delay); // only stop cuts a backoff short; new batches must not hurry a failing Loki
  }
}
