/**
 * One Talos log record after decoding and normalisation: what the rule engine
 * matches and what Loki stores. Rules and Loki always see the same `line`.
 */

import { TwoGenerationMap } from './lib/two-generation-map.js';

/** A label set. Instances are interned (see LabelSetCache) so identity means equality. */
export interface LabelSet {
  readonly labels: Readonly<Record<string, string>>;
  /** Prometheus text form with sorted names: `{host="10.0.0.5", job="talos-kernel"}`. Stable key. */
  readonly key: string;
}

export type TalosStream = 'kernel' | 'service';

export interface LogEvent {
  /** Event time, whole milliseconds since the Unix epoch (from `talos-time`). */
  timeMs: number;
  /** Sub-millisecond remainder of the event time in nanoseconds, 0..999 999 (keeps Talos's ns precision). */
  timeNsRem: number;
  /** Wall clock (ms) when the record's bytes arrived at the sidecar; used for latency metrics. */
  receivedMs: number;
  /** The line rules match and Loki stores: `msg` (trailing newline trimmed) or the raw JSON. */
  line: string;
  /** Interned stream labels: job, host, talos_service, level and configured extras. */
  stream: LabelSet;
  /** Fields not used as labels (line format `msg`), sent to Loki as structured metadata. */
  metadata: Readonly<Record<string, string>> | undefined;
  /** Which Talos stream produced the record (kernel records have no `talos-service`). */
  source: TalosStream;
}

/** Loki's timestamp for an event: unix nanoseconds as a decimal string. */
export function eventTimeNsString(ev: Pick<LogEvent, 'timeMs' | 'timeNsRem'>): string {
  if (ev.timeNsRem === 0) return `${ev.timeMs}000000`;
  return `${ev.timeMs}${String(ev.timeNsRem).padStart(6, '0')}`;
}

/** Canonical Prometheus text form of a label map (names sorted, values escaped). */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (i > 0) out += ', ';
    out += `${n}="${escapeLabelValue(labels[n]!)}"`;
  }
  return out + '}';
}

export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/**
 * Interns label sets so that every event of a stream shares one LabelSet object.
 * The rule engine caches selector results per LabelSet, so identity matters.
 * Bounded and self-cleaning (two generations of `maxSets / 2`): sets in use
 * keep their identity, sets not seen for two generations are forgotten, so a
 * sender inventing label values cannot hold memory after it stops.
 */
export class LabelSetCache {
  private readonly sets: TwoGenerationMap<string, LabelSet>;

  constructor(maxSets = 20_000) {
    this.sets = new TwoGenerationMap(Math.max(1, Math.floor(maxSets / 2)));
  }

  intern(labels: Record<string, string>): LabelSet {
    const key = labelsKey(labels);
    const hit = this.sets.get(key);
    if (hit !== undefined) return hit;
    const set: LabelSet = { labels: Object.freeze(labels), key };
    this.sets.set(key, set);
    return set;
  }

  get size(): number {
    return this.sets.size;
  }
}
