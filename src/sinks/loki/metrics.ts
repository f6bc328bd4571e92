/** The Loki pusher's metrics, `talos_alert_sidecar_loki_*`. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../metrics/registry.js';

const P = `${METRIC_PREFIX}loki_`;

/** Why lines never reached Loki. */
export type DropReason =
  | 'rejected' // Loki answered 4xx (other than 429) for a cause not listed below
  | 'too_old' // older than Loki's reject_old_samples_max_age
  | 'too_new' // beyond Loki's creation_grace_period
  | 'line_too_long' // over Loki's max_line_size
  | 'out_of_order' // Loki's ingester: too far behind the stream's newest entry
  | 'metadata_disallowed' // loki.structured_metadata: true and Loki refuses metadata
  | 'stream_limited' // a stream Loki kept refusing for a per-stream limit past loki.retry_max_time
  | 'retries_exhausted' // 429/5xx past loki.retry_max_time, or no spool and max_retries failures
  | 'buffer_full' // no spool and the in-memory backlog hit loki.max_buffer
  | 'spool_full' // the oldest spool segment was dropped for space
  | 'spool_error' // the spool could not write
  | 'encode_error'
  | 'overloaded' // the Loki thread was more than 64 MiB of records behind the ingest thread
  | 'loki_thread_down' // handed over while the Loki thread was being restarted
  | 'shutdown'; // still in memory at stop without a spool, or handed in after stop

const DROP_REASONS: readonly DropReason[] = [
  'rejected',
  'too_old',
  'too_new',
  'line_too_long',
  'out_of_order',
  'metadata_disallowed',
  'stream_limited',
  'retries_exhausted',
  'buffer_full',
  'spool_full',
  'spool_error',
  'encode_error',
  'overloaded',
  'loki_thread_down',
  'shutdown',
];

/** Why lines were sent again (none of these is a loss). */
export type ResendReason = 'metadata_disallowed' | 'metadata_too_large' | 'stream_limited';

export interface LokiGaugeSources {
  bufferBytes(): number;
  spoolBytes(): number;
  spoolSegments(): number;
  spoolPendingBytes(): number;
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
  readonly resent: Counter<'reason'>;
  readonly metadataTrimmed: Counter;
  readonly metadataSending: Gauge;

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
      help: 'Torn or corrupt write-ahead log regions skipped on replay (the rest of that segment is lost).',
      registers,
    });
    this.resent = new Counter({
      name: `${P}resent_lines_total`,
      help: 'Lines Loki refused in part of a push and that were sent again, fixed: without structured metadata, with it trimmed, or after a per-stream limit.',
      labelNames: ['reason'],
      registers,
    });
    for (const r of ['metadata_disallowed', 'metadata_too_large', 'stream_limited'] as const) this.resent.labels(r).inc(0);
    this.metadataTrimmed = new Counter({
      name: `${P}metadata_trimmed_lines_total`,
      help: "Lines whose structured metadata was cut to Loki's reported max_structured_metadata_size / _entries_count.",
      registers,
    });
    this.metadataSending = new Gauge({
      name: `${P}structured_metadata_enabled`,
      help: '1 while structured metadata is sent; 0 when off by config or after Loki refused it (loki.structured_metadata: auto).',
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
      help: 'Bytes in the write-ahead log (spool) on disk.',
      registers,
      collect() {
        this.set(sources.spoolBytes());
      },
    });
    new Gauge({
      name: `${P}spool_pending_bytes`,
      help: 'Write-ahead log bytes Loki has not acknowledged yet (what a restart would send).',
      registers,
      collect() {
        this.set(sources.spoolPendingBytes());
      },
    });
    new Gauge({
      name: `${P}spool_segments`,
      help: 'Segment files of the write-ahead log (spool).',
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
