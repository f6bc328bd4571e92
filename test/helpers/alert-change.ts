/**
 * Build AlertChanges the way the rule engine emits them, for feeding the
 * Alertmanager notifier directly in tests, plus notifier config with test-friendly values.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { defaultConfig, type Config } from '../../src/config/schema.js';
import { AlertState, type Alert, type AlertChange, type AlertChangeKind, type RuleRef } from '../../src/rules/alert.js';

export const BTRFS_RULE: RuleRef = {
  file: 'rules/fake/talos-kernel.yaml',
  group: 'talos-kernel',
  name: 'BTRFSCorruptionDetected',
  expr: 'count_over_time({job="talos-kernel"} |~ "(?i)btrfs.*(corrupt|csum failed)" [5m]) > 0',
};

export interface ChangeOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  rule?: RuleRef;
  firedAtMs?: number;
  resolvedAtMs?: number;
  atMs?: number;
  causeReceivedMs?: number;
}

/** One change of one alert; labels default to a BTRFS corruption alert on host 10.0.0.5. */
export function alertChange(kind: AlertChangeKind, o: ChangeOptions = {}): AlertChange {
  const rule = o.rule ?? BTRFS_RULE;
  const atMs = o.atMs ?? Date.now();
  const labels = o.labels ?? { alertname: rule.name, host: '10.0.0.5', job: 'talos-kernel', severity: 'critical' };
  const state = kind === 'firing' ? AlertState.Firing : kind === 'pending' ? AlertState.Pending : AlertState.Inactive;
  const alert: Alert = {
    labels,
    annotations: o.annotations ?? { summary: `BTRFS corruption on ${labels.host ?? '?'}`, description: 'csum failed ino 257' },
    state,
    value: 1,
    activeAtMs: o.firedAtMs ?? atMs,
    firedAtMs: kind === 'pending' ? 0 : (o.firedAtMs ?? atMs),
    resolvedAtMs: kind === 'resolved' || kind === 'removed' ? (o.resolvedAtMs ?? atMs) : 0,
    lastSeenMs: atMs,
  };
  return { kind, rule, alert, atMs, causeReceivedMs: o.causeReceivedMs };
}

/** Alertmanager settings with fast retries for tests. */
export function amConfig(urls: string[], over: Partial<Config['alertmanager']> = {}): Config['alertmanager'] {
  return { ...defaultConfig().alertmanager, urls, minBackoffMs: 20, maxBackoffMs: 200, timeoutMs: 2000, ...over };
}

export function rulesConfig(over: Partial<Config['rules']> = {}): Config['rules'] {
  return { ...defaultConfig().rules, ...over };
}

/** A pino logger whose JSON lines are kept in memory (for asserting on what is logged). */
export function captureLogger(level: pino.Level = 'debug'): { logger: Logger; lines: string[]; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(l);
      cb();
    },
  });
  const logger = pino({ level }, stream);
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
