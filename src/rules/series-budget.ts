/**
 * Bounds on what rule windows may hold, so a sender inventing label values
 * (a new `talos-service` per line) cannot grow memory without end or slow the
 * alerting of honest streams: at most `maxSeriesPerRule` series per rule and
 * `maxWindowBytes` for all windows together. A new series beyond either bound
 * is refused (its line counted per rule and reason, logged at most once a
 * minute per rule); series already held — firing ones among them — are never
 * evicted to make room, so an attack cannot resolve a real alert.
 */
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../metrics/registry.js';
import { TotalsCounter } from '../metrics/totals-counter.js';
import type { WindowMeter } from './sliding-window.js';

export interface SeriesLimits {
  /** New series of one rule beyond this many are refused (0: no limit). */
  maxSeriesPerRule: number;
  /** New series are refused while all windows together hold this much (bytes; 0: no limit). */
  maxWindowBytes: number;
}

export type SeriesDropReason = 'series_limit' | 'memory_budget';

/** How often a rule may log that it refuses series. */
const LOG_INTERVAL_MS = 60_000;

/** The per-rule side: what a RangeSource asks before it creates a series. */
export class RuleSeriesBudget {
  /** Lines refused because their series could not be created, by reason. */
  readonly dropped: Record<SeriesDropReason, number> = { series_limit: 0, memory_budget: 0 };
  private lastLogMs = -Infinity;
  private droppedSinceLog = 0;

  constructor(
    private readonly budget: SeriesBudget,
    readonly group: string,
    readonly rule: string,
  ) {}

  /** The rule is unloaded. */
  close(): void {
    this.budget.forget(this);
  }

  get meter(): WindowMeter {
    return this.budget.meter;
  }

  /** May a rule that holds `held` series start one more? Counts (and now and then logs) a refusal. */
  admit(held: number): boolean {
    const reason = this.budget.refusal(held);
    if (reason === undefined) return true;
    this.dropped[reason]++;
    this.droppedSinceLog++;
    const now = Date.now();
    if (now - this.lastLogMs >= LOG_INTERVAL_MS) {
      this.budget.logger?.warn(
        { rule: this.rule, group: this.group, reason, series: held, windowBytes: this.budget.meter.bytes, dropped: this.droppedSinceLog },
        reason === 'series_limit' ? 'rule series limit reached: new series dropped' : 'rule window memory budget reached: new series dropped',
      );
      this.lastLogMs = now;
      this.droppedSinceLog = 0;
    }
    return false;
  }
}

/** Shared by every rule of an engine. */
export class SeriesBudget {
  readonly meter: WindowMeter = { bytes: 0 };
  private readonly rules = new Set<RuleSeriesBudget>();

  constructor(
    readonly limits: SeriesLimits,
    readonly logger?: Logger,
  ) {}

  /** A rule's handle; `forget` it when the rule is unloaded. */
  forRule(group: string, rule: string): RuleSeriesBudget {
    const r = new RuleSeriesBudget(this, group, rule);
    this.rules.add(r);
    return r;
  }

  forget(r: RuleSeriesBudget): void {
    this.rules.delete(r);
  }

  /** Why a rule holding `held` series may not start another, or undefined. */
  refusal(held: number): SeriesDropReason | undefined {
    if (this.limits.maxSeriesPerRule > 0 && held >= this.limits.maxSeriesPerRule) return 'series_limit';
    if (this.limits.maxWindowBytes > 0 && this.meter.bytes >= this.limits.maxWindowBytes) return 'memory_budget';
    return undefined;
  }

  registerMetrics(registry: Registry): void {
    const budget = this;
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}rule_series_dropped_total`,
      help: 'Matching lines not counted because their series would exceed rules.max_series_per_rule (series_limit) or rules.max_window_memory (memory_budget).',
      labelNames: ['rule_group', 'rule', 'reason'],
      totals: function* () {
        for (const r of budget.rules) {
          for (const reason of ['series_limit', 'memory_budget'] as const) {
            if (r.dropped[reason] > 0) yield [{ rule_group: r.group, rule: r.rule, reason }, r.dropped[reason]] as const;
          }
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}rule_window_memory_bytes`,
      help: 'Estimated memory held by all rules\' sliding windows (bounded by rules.max_window_memory).',
      registers: [registry],
      collect() {
        this.set(budget.meter.bytes);
      },
    });
  }
}
