/**
 * Over 400 lines: the dispatch of one line to every rule and the evaluation step that walks alert state share the rule tables.
 * The rule engine: every log event is matched against all rules' selectors,
 * counted into their windows, and the rules it touched are re-evaluated at
 * once (coalesced per I/O turn) — the latency win over the Loki ruler's
 * one-minute schedule. A timer (≤ 1 s) handles `for`, window expiry,
 * resolution and absence. The engine emits AlertChanges; it knows no sink.
 */
import { performance } from 'node:perf_hooks';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { LogEvent } from '../log-event.js';
import { METRIC_PREFIX } from '../metrics/registry.js';
import { TotalsCounter } from '../metrics/totals-counter.js';
import type { AlertChange, AlertListener, Alert } from './alert.js';
import { AlertingRule } from './alerting-rule.js';
import { RecordingRule } from './recording-rule.js';
import { resultSamples } from './expr-eval.js';
import { RuleLegs } from './rule-legs.js';
import { IdenticalEntries } from './identical-entries.js';
import { FUTURE_SLACK_MS } from './sliding-window.js';
import { MAX_SAMPLES_PER_SERIES } from './unwrap-window.js';
import type { RuleDef, RuleGroupDef, RuleSet, SkippedRule } from './rule-file.js';
import { SelectorIndex } from './selector-index.js';
import { RecordedMetrics } from './recorded-metrics.js';
import { AlertState } from './alert.js';
import { STATE_KIND, STATE_VERSION, type RuleStateSnapshot, type StateSnapshot } from './state-file.js';
import { evidenceStoreFor, recordEvidence, type EvidenceConfig, type EvidenceStore } from './evidence.js';
import { SeriesBudget, type SeriesLimits } from './series-budget.js';
import { EvalPacer, runSliced } from './eval-pacer.js';
import { DirtyRules } from './dirty-rules.js';

/** The live timer evaluates rules in slices of this long, yielding to I/O in between. */
const TICK_SLICE_MS = 10;

export type RuleHealth = 'unknown' | 'ok' | 'err';

/** One loaded rule with everything needed to evaluate it. */
export interface LoadedRule {
  readonly id: number;
  readonly def: RuleDef;
  readonly group: RuleGroupDef;
  /** The rule's range aggregations, one RangeSource each, read at the same instant (rule-legs.ts). */
  readonly source: RuleLegs;
  readonly alerting: AlertingRule | undefined;
  readonly recording: RecordingRule | undefined;
  /** Last grid instant evaluated (bucket id); instants only move forward. */
  lastT: number;
  matches: number;
  health: RuleHealth;
  lastError: string;
  lastEvaluationMs: number;
  evaluationSeconds: number;
  /** Evidence lines of an alerting rule (issue #18); undefined when off. */
  readonly evidence?: EvidenceStore;
}

export interface EngineOptions {
  resolvedRetentionMs: number;
  externalLabels: Readonly<Record<string, string>>;
  externalUrl: string;
  /** Timer period for `for`, expiry, resolution and absence (≤ 1 s). */
  tickMs: number;
  /** The clock; replay and tests drive a simulated one. */
  now?: () => number;
  /** Evaluate touched rules as soon as the current chunk is processed (live). Off: the caller calls flush() (replay, tests). */
  autoFlush?: boolean;
  registry?: Registry;
  logger?: Logger;
  /** `rules.evidence.*` (issue #18); absent or max_lines 0: no evidence. */
  evidence?: EvidenceConfig;
  /** Bounds on rule series (rules.max_series_per_rule, rules.max_window_memory); default none. */
  seriesLimits?: SeriesLimits;
}

export class RuleEngine {
  private rules: LoadedRule[] = [];
  private groups: RuleGroupDef[] = [];
  private skipped: readonly SkippedRule[] = [];
  private index = new SelectorIndex([]);
  /** Selector id (index entry) → rule index and leg of that rule. */
  private legOwners: Array<{ rule: number; leg: number }> = [];
  /** Identical entries (same stream, nanosecond and line) are counted once, as Loki stores them once. */
  readonly identical = new IdenticalEntries(0);
  private readonly listeners: AlertListener[] = [];
  /** Rules touched by events since the last flush, with the earliest cause and latest event time. */
  private readonly dirty = new DirtyRules();
  private flushScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly matched: number[] = [];
  private evalHistogram: Histogram | undefined;
  private matchCounter: TotalsCounter | undefined;
  private recorded: RecordedMetrics | undefined;
  /** Events dropped for every rule because they were older than any range still evaluated. */
  eventsTooOld = 0;

  readonly seriesBudget: SeriesBudget;
  /** Live only: expensive rules wait between line-triggered evaluations. */
  private readonly pacer: EvalPacer<LoadedRule> | undefined;
  private ticking = false;

  constructor(private readonly opts: EngineOptions) {
    this.now = opts.now ?? Date.now;
    this.seriesBudget = new SeriesBudget(opts.seriesLimits ?? { maxSeriesPerRule: 0, maxWindowBytes: 0 }, opts.logger);
    this.pacer = opts.autoFlush === false ? undefined : new EvalPacer<LoadedRule>((marks) => {
      for (const [rule, mark] of marks) if (this.rules[rule.id] === rule && !this.dirty.has(rule.id)) this.dirty.mark(rule.id, mark.causeMs, mark.maxEventMs);
      this.flush();
    });
    if (opts.registry !== undefined) this.registerMetrics(opts.registry);
  }

  onAlert(listener: AlertListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Replace the rules. A rule whose definition is unchanged (same file, group,
   * name, expression, for, labels, annotations) keeps its windows and alerts.
   */
  load(set: RuleSet): void {
    const previous = new Map(this.rules.map((r) => [ruleIdentity(r.def), r]));
    const rules: LoadedRule[] = [];
    for (const group of set.groups) {
      for (const def of group.rules) {
        const id = rules.length;
        const old = previous.get(ruleIdentity(def));
        if (old !== undefined) {
          rules.push({ ...old, id, def, group });
          previous.delete(ruleIdentity(def));
          continue;
        }
        const source = new RuleLegs(def.expr, {
          budget: this.seriesBudget.forRule(group.name, def.name),
          onSampleCap: (labels) =>
            this.opts.logger?.warn(
              { rule: def.name, group: group.name, series: labels, cap: MAX_SAMPLES_PER_SERIES },
              'unwrap series reached its sample cap; further samples of the series are dropped until the window moves on',
            ),
          onSeriesLimit: (limit) =>
            this.opts.logger?.warn(
              { rule: def.name, group: group.name, limit },
              'rule reached its series limit (extracted labels too many); it fails until its range no longer holds refused lines',
            ),
        });
        const evidence = evidenceStoreFor(def.kind, source, this.opts.evidence); // evidence (#18)
        const opts = { resolvedRetentionMs: this.opts.resolvedRetentionMs, externalLabels: this.opts.externalLabels, externalUrl: this.opts.externalUrl, evidence, evidenceAnnotation: this.opts.evidence?.annotation };
        rules.push({
          evidence,
          id,
          def,
          group,
          source,
          alerting: def.kind === 'alert' ? new AlertingRule(def, opts) : undefined,
          recording: def.kind === 'record' ? new RecordingRule(def) : undefined,
          lastT: -Infinity,
          matches: 0,
          health: 'unknown',
          lastError: '',
          lastEvaluationMs: 0,
          evaluationSeconds: 0,
        });
      }
    }
    // Build the new index before swapping anything, so a failure leaves the old rules running.
    const legOwners = rules.flatMap((r, rule) => r.source.sources.map((_, leg) => ({ rule, leg })));
    const index = new SelectorIndex(legOwners.map((o) => rules[o.rule]!.source.sources[o.leg]!.expr.selector));
    for (const gone of previous.values()) {
      this.matchCounter?.forget({ rule_group: gone.group.name, rule: gone.def.name });
      gone.source.dispose();
      // Forget the alerts of removed rules so sinks stop re-sending them.
      for (const a of gone.alerting?.alerts() ?? []) this.emit({ kind: 'removed', rule: gone.alerting!.ref, alert: a, atMs: this.now() });
    }
    this.rules = rules;
    this.groups = set.groups;
    this.skipped = set.skipped;
    this.index = index;
    this.legOwners = legOwners;
    // Remember entries as long as any window can still count them: longest history plus one rule step and the future slack.
    this.identical.setHorizon(rules.reduce((m, r) => Math.max(m, r.source.rangeMs + r.source.stepMs + FUTURE_SLACK_MS), 0));
    this.dirty.reset(rules.length);
    this.recorded?.sync(rules.flatMap((r) => (r.recording === undefined ? [] : [r.recording])));
  }

  /** Bus subscriber: match one event against every rule. */
  ingest(ev: LogEvent): void {
    const matched = this.matched;
    const n = this.index.match(ev, matched);
    if (n === 0) return;
    if (this.identical.isCopy(ev, this.now())) return;
    let stored = false;
    let tooOld = false;
    let lastRule = -1;
    for (let i = 0; i < n; i++) {
      const owner = this.legOwners[matched[i]!]!;
      const rule = this.rules[owner.rule]!;
      // Several legs of one rule may match the same line: one match for the rule.
      if (owner.rule !== lastRule) rule.matches++;
      lastRule = owner.rule;
      const oldBefore = rule.source.tooOld;
      if (!rule.source.add(owner.leg, ev, rule.lastT)) {
        // Not stored: too old, or dropped by the rule's pipeline (label filters …).
        if (rule.source.tooOld > oldBefore) tooOld = true;
        continue;
      }
      stored = true;
      if (rule.evidence !== undefined) recordEvidence(rule.evidence, owner.leg, rule.source.sources[owner.leg]!, ev); // evidence (#18)
      this.dirty.mark(owner.rule, ev.receivedMs, ev.timeMs);
    }
    if (!stored && tooOld) this.eventsTooOld++;
    if (this.dirty.size > 0 && this.opts.autoFlush !== false && !this.flushScheduled) {
      this.flushScheduled = true;
      // A microtask runs as soon as the current socket chunk is processed: one
      // evaluation per touched rule per chunk, without waiting for the rest of
      // the event-loop turn (other sockets' chunks) as setImmediate would.
      queueMicrotask(() => this.flush());
    }
  }

  /** Evaluate the rules touched by events since the last flush. */
  flush(): void {
    this.flushScheduled = false;
    if (this.dirty.size === 0) return;
    const now = this.now();
    this.dirty.drain((id, causeMs, maxEventMs) => {
      const rule = this.rules[id]!;
      if (this.pacer?.waits(rule) === true && this.pacer.defer(rule, { causeMs, maxEventMs })) return;
      // A line stamped slightly ahead of our clock (within the decoder's tolerance) counts at once.
      this.evaluate(rule, Math.max(now, maxEventMs), causeMs);
    });
  }

  /** Evaluate every rule at the current time: `for`, expiry, resolution, absence. */
  tick(): void {
    this.flush();
    const now = this.now();
    // The timer evaluates at the latest grid instant not after now, so `for`
    // transitions and resolutions are never stamped in the future (Alertmanager
    // reads a resolved alert whose endsAt is ahead as still firing).
    for (const rule of this.rules) this.evaluate(rule, Math.floor(now / rule.source.stepMs) * rule.source.stepMs, undefined);
    this.identical.sweep(now);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tickSliced(), this.opts.tickMs);
    this.timer.unref();
  }

  /** The live timer's tick(): the same evaluations, in slices, so many heavy rules never stall the loop. */
  private async tickSliced(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    this.flush();
    const rules = this.rules;
    const at = (rule: LoadedRule): number => Math.floor(this.now() / rule.source.stepMs) * rule.source.stepMs;
    await runSliced(rules, (rule) => this.evaluate(rule, at(rule), undefined), TICK_SLICE_MS, () => this.rules === rules).finally(() => (this.ticking = false));
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.pacer?.stop();
    this.flush();
  }

  private evaluate(rule: LoadedRule, atMs: number, causeMs: number | undefined): void {
    const T = Math.max(rule.lastT, rule.source.gridAtOrAfter(atMs));
    rule.lastT = T;
    const t = T * rule.source.stepMs;
    const started = performance.now();
    try {
      const samples = resultSamples(rule.source.evaluate(T));
      if (rule.alerting !== undefined) rule.alerting.eval(t, samples, rule.group.limit, (c) => this.emit(c), causeMs, Math.min(t, this.now()));
      else rule.recording!.eval(samples, rule.group.limit);
      rule.health = 'ok';
      rule.lastError = '';
    } catch (e) {
      const message = (e as Error).message;
      // Logged when the rule starts failing or fails differently: a pipeline error
      // (e.g. unparsable lines) would otherwise log on every matching line.
      if (rule.health !== 'err' || rule.lastError !== message) {
        this.opts.logger?.warn({ rule: rule.def.name, group: rule.group.name, err: message }, 'rule evaluation failed');
      }
      rule.health = 'err';
      rule.lastError = message;
    }
    if (causeMs === undefined) rule.evidence?.sweep(t); // evidence (#18): timer evaluations free rings whose lines left the window
    rule.lastEvaluationMs = t;
    rule.evaluationSeconds = (performance.now() - started) / 1000;
    this.pacer?.record(rule, rule.evaluationSeconds * 1000);
    this.evalHistogram?.observe(rule.evaluationSeconds);
  }

  private emit(change: AlertChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        this.opts.logger?.error({ err: (e as Error).message }, 'alert listener failed');
      }
    }
  }

  /** Windows and alerts of every rule, for the state file. */
  snapshot(): StateSnapshot {
    return {
      kind: STATE_KIND,
      version: STATE_VERSION,
      savedAtMs: this.now(),
      rules: this.rules.map((r) => ({
        identity: ruleIdentity(r.def),
        ...legsSnapshot(r.source),
        lastT: Number.isFinite(r.lastT) ? r.lastT : null,
        alerts: r.alerting?.alerts().map((a) => ({ ...a })) ?? [],
      })),
    };
  }

  /**
   * Restore windows and alerts into the identical rules (same definition).
   * Restored firing and resolved alerts are announced again with their
   * original startsAt, so Alertmanager keeps one alert across the restart.
   * Returns how many rules were restored.
   */
  restore(snapshot: StateSnapshot): number {
    const byIdentity = new Map(snapshot.rules.map((r) => [r.identity, r]));
    let restored = 0;
    for (const rule of this.rules) {
      const s = byIdentity.get(ruleIdentity(rule.def));
      if (s === undefined || !rule.source.restore(legsOf(s))) continue;
      if (s.lastT !== null) rule.lastT = Math.max(rule.lastT, s.lastT);
      if (rule.alerting !== undefined) {
        rule.alerting.restoreAlerts(s.alerts);
        for (const a of rule.alerting.alerts()) {
          const kind = a.state === AlertState.Firing ? 'firing' : a.state === AlertState.Inactive ? 'resolved' : undefined;
          if (kind !== undefined) this.emit({ kind, rule: rule.alerting.ref, alert: { ...a }, atMs: this.now() });
        }
      }
      restored++;
    }
    return restored;
  }

  /** Loaded rules, in file/group order (for the API and tests). */
  loadedRules(): readonly LoadedRule[] {
    return this.rules;
  }

  ruleGroups(): readonly RuleGroupDef[] {
    return this.groups;
  }

  /** Rules of the loaded set that are listed but never evaluated (unsupported, not applicable). */
  skippedRules(): readonly SkippedRule[] {
    return this.skipped;
  }

  /** Every current alert with its rule (pending, firing, and retained resolved ones). */
  alerts(): Array<{ rule: LoadedRule; alert: Alert }> {
    const out: Array<{ rule: LoadedRule; alert: Alert }> = [];
    for (const r of this.rules) for (const a of r.alerting?.alerts() ?? []) out.push({ rule: r, alert: a });
    return out;
  }

  private registerMetrics(registry: Registry): void {
    const engine = this;
    // Every loaded rule is listed, at 0 until its first match.
    this.matchCounter = new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}rule_matches_total`,
      help: 'Log lines that matched a rule\'s stream selector and line filters.',
      labelNames: ['rule_group', 'rule'],
      totals: () => engine.rules.map((r) => [{ rule_group: r.group.name, rule: r.def.name }, r.matches] as const),
    });
    this.evalHistogram = new Histogram({
      name: `${METRIC_PREFIX}rule_evaluation_duration_seconds`,
      help: 'Time to evaluate one rule (on a matching line or on the timer).',
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
      registers: [registry],
    });
    new Gauge({
      name: `${METRIC_PREFIX}alerts`,
      help: 'Current alerts by name and state (pending, firing, inactive = resolved and retained).',
      labelNames: ['alertname', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { alert } of engine.alerts()) this.inc({ alertname: alert.labels.alertname ?? '', state: alert.state });
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}rule_series`,
      help: 'Streams held in a rule\'s sliding window.',
      labelNames: ['rule_group', 'rule'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of engine.rules) this.set({ rule_group: r.group.name, rule: r.def.name }, r.source.seriesCount);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}rule_window_bytes`,
      help: 'Memory held by a rule\'s sliding windows (all its range aggregations, offset history included).',
      labelNames: ['rule_group', 'rule'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of engine.rules) this.set({ rule_group: r.group.name, rule: r.def.name }, r.source.memoryBytes);
      },
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}identical_entries_dropped_total`,
      help: 'Matching lines dropped as identical to one already counted (same stream, nanosecond and line), as Loki stores them once.',
      totals: () => [[{}, engine.identical.dropped]],
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}identical_entries_untracked_total`,
      help: 'Matching lines not remembered for identical-entry detection because the cap was reached (a later copy of them would count twice).',
      totals: () => [[{}, engine.identical.untracked]],
    });
    new Gauge({
      name: `${METRIC_PREFIX}identical_entries_tracked`,
      help: 'Recent matching entries remembered to recognise identical copies (bounded by the longest rule history).',
      registers: [registry],
      collect() {
        this.set(engine.identical.size);
      },
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}rule_unwrap_samples_dropped_total`,
      help: `Unwrapped samples refused because their series already held ${MAX_SAMPLES_PER_SERIES} (quantile/stdvar/stddev/rate_counter keep every sample in the range).`,
      labelNames: ['rule_group', 'rule'],
      totals: () => engine.rules.map((r) => [{ rule_group: r.group.name, rule: r.def.name }, r.source.samplesDropped] as const),
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}rule_series_refused_lines_total`,
      help: 'Lines a pipeline rule refused because they would open a series past its series limit (the rule fails meanwhile).',
      labelNames: ['rule_group', 'rule'],
      totals: () => engine.rules.map((r) => [{ rule_group: r.group.name, rule: r.def.name }, r.source.seriesRefused] as const),
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}rule_events_too_old_total`,
      help: 'Matching lines older than every window still evaluated (e.g. an old kernel ring-buffer replay).',
      totals: () => [[{}, engine.eventsTooOld]],
    });
    this.recorded = new RecordedMetrics(registry);
    this.seriesBudget.registerMetrics(registry);
  }
}

function ruleIdentity(def: RuleDef): string {
  const extra = def.kind === 'alert' ? [def.forMs, def.keepFiringForMs, def.annotations] : [];
  return JSON.stringify([def.kind, def.file, def.group, def.name, def.exprText, def.labels, ...extra]);
}

/** State-file form of a rule's legs: leg 0 in the original fields, further legs in `legs`. */
function legsSnapshot(legs: RuleLegs): Pick<RuleStateSnapshot, 'stepMs' | 'series' | 'legs'> {
  const all = legs.snapshot();
  const first = all[0] ?? { stepMs: legs.stepMs, series: [] };
  return { stepMs: first.stepMs, series: first.series, ...(all.length > 1 ? { legs: all.slice(1) } : {}) };
}

function legsOf(s: RuleStateSnapshot): Array<{ stepMs: number; series: RuleStateSnapshot['series'] }> {
  return [{ stepMs: s.stepMs, series: s.series }, ...(s.legs ?? [])];
}
