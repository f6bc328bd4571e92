/** The Loki pusher's metrics, `talos_alert_sidecar_loki_*`. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../metrics/registry.js';

const P = `${METRIC_PREFIX}loki_`;

/** Why lines never reached Loki. */
export type DropReason =
  | 'rejected' // Loki answered 4xx (other than 429): not retryable
  | 'retries_exhausted' // no spool and every try failed
  | 'buffer_full' // no spool and the in-memory backlog hit loki.max_buffer
  | 'spool_full' // the oldest spool segment was dropped for space
  | 'spool_error' // the spool could not write
  | 'encode_error'
  | 'shutdown'; // still in memory at stop without a spool, or handed in after stop

const DROP_REASONS: readonly DropReason[] = [
  'rejected',
  'retries_exhausted',
  'buffer_full',
  'spool_full',
  'spool_error',
  'encode_error',
  'shutdown',
];

export interface LokiGaugeSources {
  bufferBytes(): number;
  spoolBytes(): number;
  spoolSegments(): number;
}

export class LokiMetrics {
  readonly linesSent: Counter;
  readonly bytesSent: Counter;
  readonly batchesSent: Counter;
  readonly retries: Counter;
  readonly dropped: Counter<'reason'>;
  readonly requests: Counter<'code'>;
  readonly pushDuration: Histogram;
  readonly lastSuccess: Gauge;
  readonly spoolCorrupt: Counter;

  constructor(registry: Registry, sources: LokiGaugeSources) {
    const registers = [registry];
    this.linesSent = new Counter({ name: `${P}lines_sent_total`, help: 'Log lines Loki accepted.', registers });
    this.bytesSent = new Counter({ name: `${P}bytes_sent_total`, help: 'Request body bytes (compressed) Loki accepted.', registers });
    this.batchesSent = new Counter({ name: `${P}batches_sent_total`, help: 'Push requests Loki accepted.', registers });
    this.retries = new Counter({ name: `${P}retries_total`, help: 'Failed pushes (429, 5xx, connection error, timeout) that will be tried again.', registers });
    this.dropped = new Counter({
      name: `${P}dropped_lines_total`,
      help: 'Log lines that will never reach Loki, by reason.',
      labelNames: ['reason'],
      registers,
    });
    for (const r of DROP_REASONS) this.dropped.labels(r).inc(0);
    this.requests = new Counter({
      name: `${P}requests_total`,
      help: 'Push requests by HTTP status code ("error" for connection errors and timeouts).',
      labelNames: ['code'],
      registers,
    });
    this.pushDuration = new Histogram({
      name: `${P}push_duration_seconds`,
      help: 'Push request duration, whatever the outcome.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.lastSuccess = new Gauge({ name: `${P}last_success_timestamp_seconds`, help: 'Unix time of the last accepted push.', registers });
    this.spoolCorrupt = new Counter({
      name: `${P}spool_corrupt_total`,
      help: 'Torn or corrupt spool regions skipped on replay (the rest of that segment is lost).',
      registers,
    });
    new Gauge({
      name: `${P}buffer_bytes`,
      help: 'Bytes held in memory: the open batch, batches being encoded and queued batches.',
      registers,
      collect() {
        this.set(sources.bufferBytes());
      },
    });
    new Gauge({
      name: `${P}spool_bytes`,
      help: 'Bytes in the on-disk spool.',
      registers,
      collect() {
        this.set(sources.spoolBytes());
      },
    });
    new Gauge({
      name: `${P}spool_segments`,
      help: 'Segment files in the on-disk spool.',
      registers,
      collect() {
        this.set(sources.spoolSegments());
      },
    });
  }

  drop(lines: number, reason: DropReason): void {
    if (lines > 0) this.dropped.labels(reason).inc(lines);
  }
}
