/**
 * What the rule engine tells the world about alerts. Sinks subscribe to these;
 * the engine never imports a sink.
 */
import type { EvidenceLine } from './evidence.js';
import type { LogQuery } from './evidence-query.js';

/** Prometheus rules/alerting.go AlertState. */
export enum AlertState {
  Inactive = 'inactive',
  Pending = 'pending',
  Firing = 'firing',
}

export interface Alert {
  /** Series labels + templated rule labels + alertname (rule labels win). */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  state: AlertState;
  /** Sample value of the series at the last evaluation where it was present. */
  value: number;
  /** When the series first appeared (pending started), ms since epoch. */
  activeAtMs: number;
  /** When the alert went to firing (Alertmanager's startsAt), ms; 0 while pending. */
  firedAtMs: number;
  /** When the alert resolved, ms; 0 while active. */
  resolvedAtMs: number;
  /** Last time the condition held (drives keep_firing_for), ms. */
  lastSeenMs: number;
  /** The most recent lines that fed it (issue #18, src/rules/evidence.ts); absent when evidence is off. */
  evidence?: readonly EvidenceLine[];
}

export interface RuleRef {
  /** Namespace: the rule file's path as loaded. */
  readonly file: string;
  readonly group: string;
  readonly name: string;
  /** The LogQL expression text, for generatorURL. */
  readonly expr: string;
  /** Each range aggregation's log query, for the evidence link (issue #18). */
  readonly logQueries?: readonly LogQuery[];
}

export type AlertChangeKind = 'pending' | 'firing' | 'resolved' | 'removed';

/**
 * One state transition of one alert. `firing` and `resolved` are what
 * Alertmanager hears about; `pending` and `removed` are for bookkeeping.
 * `removed` is emitted when a resolved alert leaves its 15-minute retention
 * (or a pending alert disappears), so subscribers can forget it.
 */
export interface AlertChange {
  readonly kind: AlertChangeKind;
  readonly rule: RuleRef;
  /** The alert as it was at this change. */
  readonly alert: Readonly<Alert>;
  /**
   * The engine's own alert object, kept current while the alert exists: value
   * and annotations are re-rendered at every evaluation, so a resend carries
   * what Prometheus would send now, not what was true at the change.
   */
  readonly live?: Readonly<Alert>;
  /** Evaluation time (ms) that produced the change. */
  readonly atMs: number;
  /**
   * Arrival time (ms, wall clock) of the log event whose match caused this
   * change, when the change was caused by an event; for latency metrics.
   */
  readonly causeReceivedMs?: number;
}

export type AlertListener = (change: AlertChange) => void;

/** Stable identity of an alert within a rule: its label set. */
export function alertKey(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  let k = '';
  for (const n of names) k += `${n}\u0000${labels[n]}\u0001`;
  return k;
}
