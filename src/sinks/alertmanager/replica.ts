/**
 * The outbound queue for one Alertmanager replica.
 *
 * - Keyed by the alert's label set (Alertmanager's identity): a newer state of
 *   an alert replaces the queued older one in place, so a stale `firing` is
 *   never posted after its `resolved`.
 * - Bounded: when full, the oldest queued alert is dropped and counted.
 * - One request in flight per replica (p-queue, concurrency 1) so states of the
 *   same alert reach the replica in order; replicas run independently.
 * - A failed batch goes back to the front (unless superseded) and the replica
 *   waits a jittered exponential backoff; Prometheus would drop it until the
 *   next resend, which turns a 2 s Alertmanager restart into a 1 min delay.
 */
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { Backoff } from '../backoff.js';
import type { AlertmanagerMetrics } from './metrics.js';
import type { Endpoint, HttpTransport, SendResult } from './transport.js';

/** Latency bookkeeping shared by every replica's copy of one alert change. */
export interface Delivery {
  /** Wall-clock arrival of the log line that caused the change. */
  readonly causeReceivedMs: number;
  /** Wall clock and monotonic clock when the change was handed to the notifier (sub-ms precision for the send part). */
  readonly handledWallMs: number;
  readonly handledPerfMs: number;
  /** Set by the first replica that accepts it: latency is "until Alertmanager has it". */
  observed: boolean;
}

export interface QueuedAlert {
  /** Alertmanager identity: the final label set (alertKey). */
  readonly key: string;
  /** The PostableAlert, serialised once and shared by all replicas. */
  readonly json: string;
  readonly delivery: Delivery | undefined;
}

export interface ReplicaOptions {
  readonly capacity: number;
  readonly maxBatch: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

export enum ReplicaState {
  /** Sending normally (or idle). */
  Healthy = 'healthy',
  /** Last attempt failed; waiting for the retry timer. */
  BackingOff = 'backing_off',
  /** stop() called: one last attempt, no more retries. */
  Stopping = 'stopping',
  Stopped = 'stopped',
}

export class ReplicaSender {
  private queue = new Map<string, QueuedAlert>();
  private readonly pq = new PQueue({ concurrency: 1 });
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private state = ReplicaState.Healthy;
  /** A drain task is queued or running. */
  private draining = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failingSinceMs = 0;
  private readonly queueGauge;

  constructor(
    readonly endpoint: Endpoint,
    private readonly opts: ReplicaOptions,
    private readonly transport: HttpTransport,
    private readonly metrics: AlertmanagerMetrics,
    private readonly logger: Logger,
  ) {
    this.backoff = new Backoff(opts.minBackoffMs, opts.maxBackoffMs);
    const l = endpoint.label;
    // Expose every series at 0 from the start so rate() and alerts on them work.
    metrics.sent.labels(l).inc(0);
    metrics.errors.labels(l).inc(0);
    metrics.dropped.labels(l).inc(0);
    this.queueGauge = metrics.queueLength.labels(l);
    this.queueGauge.set(0);
  }

  /** Alerts waiting (not counting a batch in flight). */
  get queued(): number {
    return this.queue.size;
  }

  get status(): ReplicaState {
    return this.state;
  }

  enqueue(a: QueuedAlert): void {
    if (this.state === ReplicaState.Stopped) return;
    const q = this.queue;
    if (!q.has(a.key) && q.size >= this.opts.capacity) {
      const oldest = q.keys().next().value as string;
      q.delete(oldest);
      this.metrics.dropped.labels(this.endpoint.label).inc();
    }
    q.set(a.key, a); // replaces in place: keeps the older alert's place in line
    this.queueGauge.set(q.size);
  }

  /** Start sending what is queued, unless a send is already under way or we are backing off. */
  kick(): void {
    if (this.draining || this.queue.size === 0) return;
    if (this.state === ReplicaState.BackingOff || this.state === ReplicaState.Stopped) return;
    this.draining = true;
    void this.pq.add(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.size > 0 && this.state !== ReplicaState.Stopped) {
        const batch = this.take();
        const body = `[${batch.map((a) => a.json).join(',')}]`;
        const started = performance.now();
        const res = await this.transport.post(this.endpoint, body, this.abort.signal);
        this.metrics.requestDuration.labels(this.endpoint.label).observe((performance.now() - started) / 1000);
        if (res.kind === 'ok') {
          this.delivered(batch);
          continue;
        }
        this.metrics.errors.labels(this.endpoint.label).inc();
        if (res.kind === 'reject') {
          this.metrics.dropped.labels(this.endpoint.label).inc(batch.length);
          this.logger.error({ alertmanager: this.endpoint.label, status: res.status, err: res.error, alerts: batch.length }, 'alertmanager refused alerts; dropped');
          continue;
        }
        this.putBack(batch);
        this.failed(res);
        return;
      }
    } finally {
      this.draining = false;
    }
  }

  /** Up to maxBatch alerts from the front of the queue. */
  private take(): QueuedAlert[] {
    const batch: QueuedAlert[] = [];
    for (const [k, a] of this.queue) {
      batch.push(a);
      this.queue.delete(k);
      if (batch.length >= this.opts.maxBatch) break;
    }
    this.queueGauge.set(this.queue.size);
    return batch;
  }

  /** Return a failed batch to the front, unless a newer state of the alert arrived meanwhile. */
  private putBack(batch: QueuedAlert[]): void {
    const merged = new Map<string, QueuedAlert>();
    for (const a of batch) if (!this.queue.has(a.key)) merged.set(a.key, a);
    for (const [k, a] of this.queue) merged.set(k, a);
    let excess = merged.size - this.opts.capacity;
    if (excess > 0) {
      this.metrics.dropped.labels(this.endpoint.label).inc(excess);
      for (const k of merged.keys()) {
        if (excess-- <= 0) break;
        merged.delete(k);
      }
    }
    this.queue = merged;
    this.queueGauge.set(merged.size);
  }

  private delivered(batch: QueuedAlert[]): void {
    const l = this.endpoint.label;
    this.metrics.sent.labels(l).inc(batch.length);
    if (this.backoff.failures > 0) {
      this.logger.info({ alertmanager: l, failures: this.backoff.failures, downMs: Date.now() - this.failingSinceMs }, 'alertmanager reachable again');
      this.backoff.reset();
    }
    const nowPerf = performance.now();
    for (const a of batch) {
      const d = a.delivery;
      if (d === undefined || d.observed) continue;
      d.observed = true;
      const ms = d.handledWallMs - d.causeReceivedMs + (nowPerf - d.handledPerfMs);
      this.metrics.notificationLatency.observe(Math.max(0, ms) / 1000);
    }
  }

  private failed(res: Exclude<SendResult, { kind: 'ok' }>): void {
    const l = this.endpoint.label;
    if (this.state === ReplicaState.Stopping || this.state === ReplicaState.Stopped) {
      this.logger.warn({ alertmanager: l, err: res.error, unsent: this.queue.size }, 'alertmanager send failed during shutdown; alerts not delivered');
      return;
    }
    const first = this.backoff.failures === 0;
    if (first) this.failingSinceMs = Date.now();
    const delayMs = this.backoff.next();
    const fields = { alertmanager: l, err: res.error, retryInMs: delayMs, queued: this.queue.size, failures: this.backoff.failures };
    // Warn once per outage; the retries themselves are in errors_total.
    if (first) this.logger.warn(fields, 'alertmanager send failed; retrying with backoff');
    else this.logger.debug(fields, 'alertmanager send failed again');
    this.state = ReplicaState.BackingOff;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state === ReplicaState.BackingOff) this.state = ReplicaState.Healthy;
      this.kick();
    }, delayMs);
    this.retryTimer.unref?.();
  }

  /**
   * Stop: cancel a pending retry, make one last attempt for what is queued,
   * wait at most `boundMs`, then abort whatever is still in flight.
   */
  async stop(boundMs: number): Promise<void> {
    if (this.state === ReplicaState.Stopped) return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.state = ReplicaState.Stopping;
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pq.onIdle(), new Promise<void>((r) => (timer = setTimeout(r, boundMs)))]);
    clearTimeout(timer);
    this.state = ReplicaState.Stopped;
    this.abort.abort();
    await this.pq.onIdle();
  }
}
