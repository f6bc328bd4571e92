/**
 * The real sidecar (startSidecar, the same wiring as `run`) for benchmarks:
 * 127.0.0.1 ephemeral ports, rules handed in, logging off, no rule watcher.
 */
import { pino } from 'pino';
import { startSidecar, type Sidecar } from '../src/app.js';
import { defaultConfig, type Config } from '../src/config/schema.js';
import type { RuleSet } from '../src/rules/rule-file.js';

export interface BenchSidecarOptions {
  ruleSet: RuleSet;
  /** Loki base URL (empty: no forwarding). */
  lokiUrl?: string;
  /** Alertmanager (or proxy) base URL; none: alerts are only logged (silently). */
  alertmanagerUrl?: string;
  configure?: (cfg: Config) => void;
}

export function startBenchSidecar(opts: BenchSidecarOptions): Promise<Sidecar> {
  const cfg = defaultConfig();
  cfg.ingest.listen = '127.0.0.1:0';
  cfg.ingest.udp = false;
  cfg.http.listen = '127.0.0.1:0';
  cfg.rules.watch = false;
  cfg.rules.paths = [];
  cfg.log.level = 'error';
  if (opts.lokiUrl !== undefined) cfg.loki.url = opts.lokiUrl;
  if (opts.alertmanagerUrl !== undefined) cfg.alertmanager.urls = [opts.alertmanagerUrl];
  opts.configure?.(cfg);
  return startSidecar(cfg, { logger: pino({ level: 'silent' }), ruleSet: opts.ruleSet });
}

/** Lines that matched at least one rule's selector and filters, summed over rules (a line matching two rules counts twice). */
export function ruleMatches(sidecar: Sidecar): number {
  let n = 0;
  for (const r of sidecar.engine.loadedRules()) n += r.matches;
  return n;
}

/** Series held in all rules' windows. */
export function ruleSeries(sidecar: Sidecar): number {
  let n = 0;
  for (const r of sidecar.engine.loadedRules()) n += r.source.seriesCount;
  return n;
}

/** A counter's current value from the sidecar's registry (0 when absent). */
export async function counterValue(sidecar: Sidecar, name: string): Promise<number> {
  const m = sidecar.registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const v = await m.get();
  return v.values.reduce((a, s) => a + s.value, 0);
}
