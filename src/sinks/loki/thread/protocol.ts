/**
 * Messages between the ingest thread (LokiForwarder) and the Loki thread
 * (LokiHost). Messages on one port arrive in order, so an answer to a
 * metrics request proves every frame posted before it has been handled
 * (decoded, written to the write-ahead log, batched).
 */
import type { Config } from '../../../config/schema.js';

/** What the Loki thread needs to know: how to decode records, where to push, how to log. */
export interface HostConfig {
  loki: Config['loki'];
  talos: Config['talos'];
  log: Config['log'];
}

/** A prom-client metric's JSON form (Registry#getMetricsAsJSON). */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

export type ToHost =
  | { t: 'start' }
  | { t: 'frame'; buf: ArrayBuffer; len: number }
  | { t: 'metrics'; id: number }
  | { t: 'stop'; timeoutMs: number };

export type FromHost =
  | { t: 'started'; metrics: MetricJson[] }
  | { t: 'start_error'; message: string }
  /** A frame was handled (its records decoded and handed to the pusher). */
  | { t: 'done'; len: number; records: number }
  | { t: 'metrics'; id: number; metrics: MetricJson[] }
  /** The final values of its metrics come with it. */
  | { t: 'stopped'; metrics: MetricJson[] };
