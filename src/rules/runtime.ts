/**
 * The rule set's life around the engine: the first load (fatal when bad, like
 * Loki and Prometheus), reloads (a bad one keeps the previous rules), watching
 * the rule files, and the state file (restored before any line arrives, saved
 * within half a second of every alert state change, periodically and at stop).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { RuleEngine } from './engine.js';
import { loadRuleSet } from './load.js';
import { RuleLoadMetrics } from './metrics.js';
import type { RuleSet } from './rule-file.js';
import { readStateFile } from './state-file.js';
import { StateSaver } from './state-saver.js';

/** Longest time from an alert state change to the state file write that records it. */
const STATE_WRITE_DELAY_MS = 500;
import { RuleWatcher } from './watch.js';

export type ReloadResult = { ok: true; rules: number } | { ok: false; error: string };

export interface RuleRuntimeOptions {
  rules: Config['rules'];
  state: Config['state'];
  engine: RuleEngine;
  registry: Registry;
  logger: Logger;
  /** Rules already loaded (demo, tests): used instead of rules.paths, and never watched. */
  ruleSet?: RuleSet;
}

export class RuleRuntime {
  private readonly metrics: RuleLoadMetrics;
  private watcher: RuleWatcher | undefined;
  private saver: StateSaver | undefined;

  constructor(private readonly opts: RuleRuntimeOptions) {
    this.metrics = new RuleLoadMetrics(opts.registry);
  }

  /** The first load: throws on a bad rule file. */
  async load(): Promise<void> {
    this.apply(this.opts.ruleSet ?? (await this.loadFromPaths()));
  }

  /** Reload rules from their paths; a failure keeps the old rules. */
  readonly reload = async (): Promise<ReloadResult> => {
    const { logger } = this.opts;
    try {
      const set = await this.loadFromPaths();
      const n = this.apply(set);
      logger.info({ rules: n, groups: set.groups.length, skipped: set.skipped.length }, 'rules loaded');
      return { ok: true, rules: n };
    } catch (e) {
      this.metrics.reloadFailed();
      const error = (e as Error).message;
      logger.error({ err: error }, 'rule reload failed; keeping the previous rules');
      return { ok: false, error };
    }
  };

  /** Restore windows and alerts from the state file, then save it periodically. Call after the alert listeners are attached. */
  async restoreState(): Promise<void> {
    const { state, engine, logger } = this.opts;
    if (state.file === '') return;
    try {
      const snap = await readStateFile(state.file);
      if (snap !== undefined) logger.info({ file: state.file, rules: engine.restore(snap), savedAt: new Date(snap.savedAtMs).toISOString() }, 'rule state restored');
    } catch (e) {
      logger.warn({ err: (e as Error).message, file: state.file }, 'state file ignored');
    }
    this.saver = new StateSaver(engine, { file: state.file, delayMs: STATE_WRITE_DELAY_MS, intervalMs: state.intervalMs, logger });
    this.saver.start();
  }

  /** Reload when the rule files change (rules.watch, and only rules loaded from paths). */
  async watch(): Promise<void> {
    if (!this.opts.rules.watch || this.opts.ruleSet !== undefined) return;
    this.watcher = new RuleWatcher(this.opts.rules.paths, async () => void (await this.reload()));
    await this.watcher.start();
  }

  stopWatching(): void {
    this.watcher?.stop();
  }

  /** Stop the periodic save and save once more; call after the engine stopped. */
  async stop(): Promise<void> {
    this.stopWatching();
    await this.saver?.stop();
  }

  private loadFromPaths(): Promise<RuleSet> {
    return loadRuleSet(this.opts.rules.paths, { unsupported: this.opts.rules.unsupported, maxFileBytes: this.opts.rules.maxFileBytes });
  }

  private apply(set: RuleSet): number {
    this.opts.engine.load(set);
    this.metrics.loadedOk(set);
    for (const s of set.skipped) this.opts.logger.warn({ file: s.file, group: s.group, rule: s.rule, reason: s.reason }, 'rule skipped (unsupported LogQL)');
    return set.groups.reduce((n, g) => n + g.rules.length, 0);
  }
}
