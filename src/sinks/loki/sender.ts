/**
 * The one send loop. Takes the next batch, pushes it, and handles Loki's
 * answer by cause (texts: loki-errors.ts):
 * - 2xx: done.
 * - no answer (connection error, timeout): the same batch again with
 *   jittered backoff; with a write-ahead log until Loki answers, without one
 *   up to `maxRetries` tries.
 * - 429/5xx: the same again, for at most `retryMaxTimeMs` (then dropped,
 *   counted). A 429 that names a stream (per-stream rate or stream-count
 *   limit) means Loki stored the rest: only that stream is set aside and
 *   retried on its own schedule, so it never blocks the others.
 * - 400 and other 4xx: Loki stored the valid entries. Those refused for
 *   structured metadata are resent without it (or trimmed); the others are
 *   dropped and counted by reason, never retried; the cause is logged once
 *   per interval. Nothing Loki stored is sent again.
 * One request in flight at a time keeps each stream's entries in order.
 */
import type { Logger } from 'pino';
import { Backoff } from '../backoff.js';
import { responseExcerpt } from '../redact.js';
import { OpenBatch } from './batch.js';
import { LogLimiter } from './log-limiter.js';
import { parseLokiError, sameStream, type LokiRefusal } from './loki-errors.js';
import { MetadataPolicy } from './metadata-policy.js';
import type { DropReason, LokiMetrics } from './metrics.js';
import type { QueuedBatch } from './queue.js';
import { Signal } from './signal.js';
import type { LokiTransport, PushOutcome } from './transport.js';

export type SenderState = 'idle' | 'sending' | 'backoff' | 'stopped';

/** Where batches come from and go back to (the pusher). */
export interface BatchSource {
  /** The next batch to send; undefined when there is none now (the sender then waits for `wake`). */
  next(): Promise<QueuedBatch | undefined>;
  /** Loki is done with `batch`; `ackLog`: its write-ahead log position may be acknowledged. */
  done(batch: QueuedBatch, ackLog: boolean): void;
  /** A new batch of `events`, encoded with today's metadata policy, standing in for (part of) `like`. */
  rebuild(events: OpenBatch, like: QueuedBatch, aside: boolean): Promise<QueuedBatch>;
  /** Batches waiting in memory (for drain). */
  readonly backlog: number;
}

export interface SenderOptions {
  maxRetries: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** 429/5xx retry bound (0: none). */
  retryMaxTimeMs: number;
  /** A write-ahead log holds every line: no-answer failures are retried until Loki answers. */
  durable: boolean;
  /** Memory for streams set aside for per-stream limits; beyond it the oldest are dropped, counted. */
  maxAsideBytes: number;
  policy: MetadataPolicy;
  logger: Logger;
  metrics: LokiMetrics;
  now: () => number;
}

interface Aside {
  batch: QueuedBatch;
  attempts: number;
  due: number;
  deadline: number;
}

/** Keep this much of a response body in a log line. */
const LOG_BODY_CHARS = 500;
const MAX_RESENDS = 2;

export class Sender {
  private state: SenderState = 'idle';
  /** Wakes the loop: new batch, or stop. */
  readonly wake = new Signal();
  private readonly stopSignal = new Signal();
  private readonly changed = new Signal();
  private readonly backoff: Backoff;
  private readonly logLimiter = new LogLimiter(60_000);
  private failures = 0;
  private firstFailureMs = 0;
  private completed = 0;
  private stopping = false;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private asides: Aside[] = [];
  private asideBytes = 0;
  /** The batch held when the loop stopped (not yet done). */
  private held: QueuedBatch | undefined;

  constructor(
    private readonly source: BatchSource,
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

  /** Wait until the memory backlog is sent and nothing is in flight, giving up at `deadline` or once Loki is failing. */
  async drain(deadline: number): Promise<void> {
    const startCompleted = this.completed;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.state === 'backoff' || this.state === 'stopped') return;
      const currentDone = this.state !== 'sending' || this.completed > startCompleted;
      if (this.source.backlog === 0 && currentDone) return;
      await this.changed.wait(remaining);
    }
  }

  /** Stop the loop, aborting a request in flight. Returns the lines of batches not done (held, set aside). */
  async halt(): Promise<QueuedBatch[]> {
    this.stopping = true;
    this.abort?.abort();
    this.wake.notify();
    this.stopSignal.notify();
    await this.loop;
    this.setState('stopped');
    const left = this.asides.map((a) => a.batch);
    if (this.held !== undefined) left.unshift(this.held);
    return left;
  }

  private setState(s: SenderState): void {
    this.state = s;
    this.changed.notify();
  }

  private async run(): Promise<void> {
    let current: QueuedBatch | undefined;
    while (!this.stopping) {
      this.wake.clear();
      if (current === undefined) {
        current = this.dueAside() ?? (await this.source.next());
        if (this.stopping) break;
        if (current === undefined) {
          this.setState('idle');
          await this.wake.wait(this.asideDelay());
          continue;
        }
      }
      this.setState('sending');
      this.abort = new AbortController();
      const started = performance.now();
      const outcome = await this.transport.push(current, this.abort.signal);
      this.abort = undefined;
      this.completed++;
      const m = this.opts.metrics;
      m.pushDuration.observe((performance.now() - started) / 1000);
      m.requests.labels(outcome.kind === 'error' ? 'error' : String(outcome.status)).inc();
      if (this.stopping && outcome.kind === 'error') break; // aborted by stop: not done
      current = await this.settle(current, outcome);
    }
    this.held = current;
    this.setState('stopped');
  }

  /** Act on Loki's answer; returns the batch to send next in its place (a retry or a resend), if any. */
  private async settle(b: QueuedBatch, outcome: PushOutcome): Promise<QueuedBatch | undefined> {
    if (outcome.kind === 'ok') {
      for (const k of b.source.streams.keys()) this.known(k);
      this.accepted(b, b.lines);
      this.finish(b, true);
      return undefined;
    }
    if (outcome.kind === 'error') return this.retry(b, outcome.reason, false);
    const { status, body, complete } = outcome;
    if (status === 429 || status >= 500) {
      const r = parseLokiError(status, body, complete);
      if (status === 429 && r.limitedStreams.length > 0) {
        const aside = await this.setAside(b, r, body);
        if (aside) return undefined;
      }
      return this.retry(b, `HTTP ${status}: ${responseExcerpt(body, 300)}`, true);
    }
    return this.refused(b, status, body, complete);
  }

  private async retry(b: QueuedBatch, reason: string, answered: boolean): Promise<QueuedBatch | undefined> {
    const now = this.opts.now();
    if (this.failures === 0) this.firstFailureMs = now;
    this.failures++;
    const o = this.opts;
    const exhausted = o.durable
      ? answered && o.retryMaxTimeMs > 0 && now - this.firstFailureMs >= o.retryMaxTimeMs
      : this.failures >= Math.max(1, o.maxRetries) || (answered && o.retryMaxTimeMs > 0 && now - this.firstFailureMs >= o.retryMaxTimeMs);
    if (exhausted) {
      o.logger.error({ failures: this.failures, reason, lines: b.lines }, 'loki: giving up on a batch (retries exhausted); dropping it');
      o.metrics.drop(b.lines, 'retries_exhausted');
      this.finish(b, true);
      return undefined;
    }
    const suppressed = this.logLimiter.take(`retry:${reason.slice(0, 40)}`);
    if (suppressed !== undefined) o.logger.warn({ failures: this.failures, reason, suppressed }, 'loki push failed; will retry');
    o.metrics.retries.inc();
    this.setState('backoff');
    await this.stopSignal.wait(this.backoff.next()); // only stop cuts a backoff short; new batches must not hurry a failing Loki
    return b;
  }

  /**
   * 429 naming streams: Loki stored the rest of the push. The named
   * streams' entries (all, or the last N Loki says it ignored) wait on their
   * own schedule. Returns false when no stream of the batch matched.
   */
  private async setAside(b: QueuedBatch, r: LokiRefusal, body: string): Promise<boolean> {
    const streams = [...b.source.streams.values()];
    if (!streams.some((s) => r.limitedStreams.some((x) => sameStream(s.stream.labels, x.labels)))) return false;
    // The stream limit names one refused stream; when none of the push was taken Loki says so in the same
    // words. So every stream Loki has not stored before is held too: a duplicate beats a silent loss.
    const streamLimit = r.limitedStreams.some((x) => x.ignored === undefined);
    const held = new OpenBatch();
    for (const s of streams) {
      const ref = r.limitedStreams.find((x) => sameStream(s.stream.labels, x.labels));
      if (ref === undefined && (!streamLimit || this.knownStreams.has(s.stream.key))) {
        this.known(s.stream.key); // stored by this push
        continue;
      }
      const from = ref?.ignored === undefined ? 0 : Math.max(0, s.events.length - ref.ignored);
      for (let i = from; i < s.events.length; i++) held.add(s.events[i]!);
    }
    const o = this.opts;
    const suppressed = this.logLimiter.take('stream_limited');
    if (suppressed !== undefined) {
      o.logger.warn({ lines: held.lines, suppressed, response: responseExcerpt(body, LOG_BODY_CHARS) }, 'loki: per-stream limit; setting the stream aside, the rest was stored');
    }
    this.accepted(b, b.lines - held.lines);
    const prev = b.aside ? this.asideOf(b) : undefined;
    const now = o.now();
    const attempts = (prev?.attempts ?? 0) + 1;
    const deadline = prev?.deadline ?? (o.retryMaxTimeMs > 0 ? now + o.retryMaxTimeMs : Number.POSITIVE_INFINITY);
    this.finish(b, true);
    if (now >= deadline) {
      o.metrics.drop(held.lines, 'stream_limited');
      return true;
    }
    const batch = await this.source.rebuild(held, b, true);
    const delay = Math.min(o.maxBackoffMs, o.minBackoffMs * 2 ** Math.min(attempts, 20)) * (0.5 + Math.random() / 2);
    this.asides.push({ batch, attempts, due: now + delay, deadline });
    this.asideBytes += batch.body.length + batch.source.bytes;
    o.metrics.resent.labels('stream_limited').inc(held.lines);
    while (this.asideBytes > o.maxAsideBytes && this.asides.length > 1) {
      const dropped = this.asides.shift()!;
      this.asideBytes -= dropped.batch.body.length + dropped.batch.source.bytes;
      o.metrics.drop(dropped.batch.lines, 'stream_limited');
    }
    return true;
  }

  private readonly asideMeta = new WeakMap<QueuedBatch, Aside>();
  /** Streams Loki has stored (so they exist there and the stream-count limit cannot refuse them); bounded. */
  private readonly knownStreams = new Set<string>();

  private known(key: string): void {
    if (this.knownStreams.size >= 100_000) this.knownStreams.clear();
    this.knownStreams.add(key);
  }

  private asideOf(b: QueuedBatch): Aside | undefined {
    return this.asideMeta.get(b);
  }

  /** A set-aside batch whose time has come, taken off the list. */
  private dueAside(): QueuedBatch | undefined {
    const now = this.opts.now();
    const i = this.asides.findIndex((a) => a.due <= now);
    if (i < 0) return undefined;
    const a = this.asides.splice(i, 1)[0]!;
    this.asideBytes -= a.batch.body.length + a.batch.source.bytes;
    this.asideMeta.set(a.batch, a);
    return a.batch;
  }

  private asideDelay(): number | undefined {
    if (this.asides.length === 0) return undefined;
    const now = this.opts.now();
    let min = Number.POSITIVE_INFINITY;
    for (const a of this.asides) min = Math.min(min, a.due - now);
    return Math.max(1, min);
  }

  /** A 4xx other than 429: Loki stored the valid entries; refused ones are fixed and resent, or counted. */
  private async refused(b: QueuedBatch, status: number, body: string, complete: boolean): Promise<QueuedBatch | undefined> {
    const o = this.opts;
    const r = parseLokiError(status, body, complete);
    const drops = new Map<DropReason, number>();
    const count = (reason: DropReason, n: number): void => {
      if (n > 0) drops.set(reason, (drops.get(reason) ?? 0) + n);
    };
    const resend = new OpenBatch();
    let resendReason: 'metadata_disallowed' | 'metadata_too_large' = 'metadata_too_large';

    if (r.unknown) {
      count('rejected', r.total ?? b.lines);
    } else {
      if (r.metadataDisallowed && o.policy.refuse()) {
        o.metrics.metadataSending.set(0);
        o.logger.warn(
          { status, response: responseExcerpt(body, LOG_BODY_CHARS) },
          'Loki refuses structured metadata: pushing without it from now on (loki.structured_metadata: auto). To keep it, enable it on the Loki side: limits_config.allow_structured_metadata: true with a v13 (tsdb) schema, Loki >= 3.0 (2.9: also the v13 schema and the flag)',
        );
      }
      if (r.metadataMaxBytes !== undefined || r.metadataMaxCount !== undefined) {
        if (o.policy.learn({ bytes: r.metadataMaxBytes, count: r.metadataMaxCount })) {
          o.logger.warn({ limits: o.policy.limits }, 'Loki limits structured metadata per line; trimming to its limits from now on (raise limits_config.max_structured_metadata_size / max_structured_metadata_entries_count on the Loki side to keep more)');
        }
      }
      // Loki's per-entry checks, in its order (pkg/distributor/validator.go ValidateEntry).
      let known = 0;
      for (const s of b.source.streams.values()) {
        for (const ev of s.events) {
          if (r.tooOldBeforeMs !== undefined && ev.timeMs < r.tooOldBeforeMs) {
            count('too_old', 1);
            known++;
            continue;
          }
          if (r.maxLineBytes !== undefined && Buffer.byteLength(ev.line) > r.maxLineBytes) {
            count('line_too_long', 1);
            known++;
            continue;
          }
          if (ev.metadata === undefined) continue;
          const size = MetadataPolicy.size(ev.metadata);
          if (size.count === 0) continue;
          if (r.metadataDisallowed) {
            known++;
            if (o.policy.sending) count('metadata_disallowed', 1);
            else {
              resend.add(ev);
              resendReason = 'metadata_disallowed';
            }
            continue;
          }
          if ((r.metadataMaxBytes !== undefined && size.bytes > r.metadataMaxBytes) || (r.metadataMaxCount !== undefined && size.count > r.metadataMaxCount)) {
            known++;
            resend.add(ev);
          }
        }
      }
      count('too_new', r.tooNew);
      count('out_of_order', r.outOfOrder);
      if (r.total !== undefined) count('rejected', r.total - known - r.tooNew);
    }

    let dropped = 0;
    for (const [reason, n] of drops) {
      dropped += n;
      o.metrics.drop(n, reason);
    }
    const suppressed = this.logLimiter.take(`refused:${status}:${[...drops.keys()].join(',')}`);
    if (suppressed !== undefined) {
      o.logger.warn(
        { status, lines: b.lines, dropped: Object.fromEntries(drops), resent: resend.lines, suppressed, response: responseExcerpt(body, LOG_BODY_CHARS) },
        'loki refused part of a push; the rest is stored, refused lines are counted and not retried',
      );
    }
    this.accepted(b, Math.max(0, b.lines - dropped - resend.lines));
    if (resend.lines > 0 && b.resends < MAX_RESENDS) {
      o.metrics.resent.labels(resendReason).inc(resend.lines);
      this.finish(b, false); // the log position moves when the resend is done
      return this.source.rebuild(resend, b, b.aside);
    }
    if (resend.lines > 0) o.metrics.drop(resend.lines, 'rejected');
    this.finish(b, true);
    return undefined;
  }

  /** Loki stored `lines` of the batch. */
  private accepted(batch: QueuedBatch, lines: number): void {
    if (lines <= 0) return;
    const m = this.opts.metrics;
    m.linesSent.inc(lines);
    m.bytesSent.inc(batch.body.length);
    m.batchesSent.inc();
    m.lastSuccess.set(this.opts.now() / 1000);
  }

  /** Loki answered for the batch: it leaves the queue, and the next one starts afresh. */
  private finish(batch: QueuedBatch, ackLog: boolean): void {
    if (this.failures > 0) this.opts.logger.info({ failures: this.failures }, 'loki reachable again');
    this.failures = 0;
    this.backoff.reset();
    this.source.done(batch, ackLog && !batch.aside);
  }
}
