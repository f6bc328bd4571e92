/**
 * Over 400 lines: one range aggregation for every LogQL range function; the functions share the series map and window bookkeeping.
 * A LogQL range aggregation (`count_over_time({…} |= "x" [5m])`,
 * `quantile_over_time(0.99, {…} | json | unwrap latency [5m])` …) kept
 * continuously and evaluated at grid instants T·g.
 *
 * Without pipeline stages the series are the streams (one SlidingWindow per
 * matching stream, nothing per line). With stages (parsers, label filters,
 * formatters, unwrap) each line runs the pipeline; its series is the
 * stream labels plus structured metadata plus extracted labels (minus
 * dropped ones), reduced by the range aggregation's own `by`/`without` or
 * by an enclosing `sum by` pushed down as Loki does
 * (syntax/ast.go VectorAggregationExpr.Extractor), so series are created
 * per extracted label set. Windows are freed when they empty.
 */
import type { Grouping, LabelMatcher, RangeAggExpr, RangeFn } from '../logql/ast.js';
import { UnwrapExtractor, compileStages, runStages } from '../logql/pipeline.js';
import { ERROR_LABEL, LabelsBuilder, PRESERVE_ERROR_LABEL } from '../logql/stages/labels-builder.js';
import { parserHintsFor } from '../logql/stages/parser-hints.js';
import type { Stage } from '../logql/stages/stage.js';
import type { Sample } from './instant-vector.js';
import { SlidingWindow, bucketOf, gridStepForOffset } from './sliding-window.js';
import type { RuleSeriesBudget } from './series-budget.js';
import { UnwrapWindow, type WindowSummary } from './unwrap-window.js';
import { labelsKey, type LogEvent } from '../log-event.js';

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly window: SlidingWindow;
}

interface UnwrapSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly window: UnwrapWindow;
}

/**
 * Series one pipeline rule may hold. Extracted labels can be unbounded (a
 * request id, a timestamp); past this the rule fails like Loki's
 * max_query_series ("maximum of series … reached") instead of growing.
 */
export const MAX_SERIES_PER_RULE = 10_000;
/** Window slots (8 bytes each, twice for bytes_*) one rule's series may hold together: ~32 MB. */
const MAX_SLOTS_PER_RULE = 4_000_000;

/** The rule produced more series than MAX_SERIES_PER_RULE within its range. */
export class SeriesLimitError extends Error {
  constructor(limit: number) {
    super(`maximum of series (${limit}) reached for a single query; consider reducing the cardinality of the extracted labels (drop/keep, or aggregate with sum by (…))`);
    this.name = 'SeriesLimitError';
  }
}

/** Unwrap functions that need every sample in the range. */
const NEEDS_SAMPLES = new Set<RangeFn>(['quantile_over_time', 'stdvar_over_time', 'stddev_over_time', 'rate_counter']);

/** Loki's error for a metric sample still carrying `__error__` (logqlmodel/error.go PipelineError). */
export class PipelineError extends Error {
  constructor(labels: Readonly<Record<string, string>>) {
    const err = labels[ERROR_LABEL] ?? '';
    super(
      `pipeline error: '${err}' for series: '${labelsKey(labels)}'.\n` +
        `Use a label filter to intentionally skip this error. (e.g | __error__!="${err}").\n` +
        'To skip all potential errors you can match empty errors.(e.g __error__="")\n' +
        'The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__="" )\n',
    );
    this.name = 'PipelineError';
  }
}

export class RangeSource {
  readonly fn: RangeFn;
  readonly rangeMs: number;
  readonly stepMs: number;
  /** Buckets of history kept: (range + offset) / step. */
  readonly slots: number;
  /** `offset` in buckets, and the range in buckets (slots = offsetSlots + rangeSlots). */
  private readonly offsetSlots: number;
  private readonly rangeSlots: number;
  private readonly trackBytes: boolean;
  private readonly series = new Map<string, Series>();
  private readonly unwrapSeries = new Map<string, UnwrapSeries>();
  /** Lines that matched but were older than every range still to be evaluated. */
  tooOld = 0;
  /** Samples refused because their series held MAX_SAMPLES_PER_SERIES already. */
  samplesDropped = 0;
  /** Lines the pipeline dropped (label filters, line filters after a formatter). */
  pipelineDropped = 0;
  private readonly scratch = { count: 0, bytes: 0 };
  private readonly summaryScratch: WindowSummary = { count: 0, sum: 0, min: 0, max: 0, first: 0, last: 0 };
  /** Labels of absent_over_time's result: the selector's equality matchers. */
  private readonly absentLabels: Readonly<Record<string, string>>;
  /** Stages after the hoisted line filters; undefined: the plain stream path. */
  private readonly stages: Stage[] | undefined;
  private readonly unwrap: UnwrapExtractor | undefined;
  /** Labels each sample keeps (range `by`/`without`, pushed-down `sum by`, or unwrap's implicit `without (label)`). */
  private readonly grouping: Grouping | undefined;
  private readonly lb = new LabelsBuilder();
  /** Evidence hook (#18): series key and labels of the last piped line added (plain selectors: the stream). */
  lastSeriesKey = '';
  lastSeriesLabels: Readonly<Record<string, string>> = {};
  /** Called once when a series first reaches the sample cap. */
  onSampleCap: ((labels: Readonly<Record<string, string>>) => void) | undefined;
  /** Lines refused because they would have opened a series past the series limit. */
  seriesRefused = 0;
  /** Called once when the rule first reaches the series limit. */
  onSeriesLimit: (() => void) | undefined;
  /** Last grid instant whose range may miss refused lines: evaluation fails up to it. */
  private overflowUntil = -Infinity;
  maxSeries: number;

  /**
   * `pushedGrouping`: the grouping of an enclosing `sum` Loki pushes into
   * the extractor (see expr-eval.ts extractorGrouping); undefined if none.
   */
  constructor(
    readonly expr: RangeAggExpr,
    pushedGrouping?: Grouping,
    /** Bounds on new series of any rule (rules.max_series_per_rule, rules.max_window_memory); none: unbounded. */
    private readonly budget?: RuleSeriesBudget,
  ) {
    this.fn = expr.fn;
    this.rangeMs = expr.rangeMs;
    const offsetMs = expr.offsetMs ?? 0;
    const step = gridStepForOffset(expr.rangeMs, offsetMs);
    // checkEvaluable (rules/rule-legs.ts) refuses such rules at load time.
    if (step === undefined) throw new Error(`no evaluation grid for range ${expr.rangeMs}ms with offset ${offsetMs}ms`);
    this.stepMs = step;
    this.rangeSlots = expr.rangeMs / step;
    this.offsetSlots = offsetMs / step;
    this.slots = this.rangeSlots + this.offsetSlots;
    this.trackBytes = expr.fn === 'bytes_over_time' || expr.fn === 'bytes_rate';
    this.absentLabels = absentLabelsOf(expr.selector.matchers);
    // Long ranges have more buckets per series, so fewer series fit the same memory.
    const ring = new SlidingWindow(this.slots, this.stepMs, false).capacity;
    this.maxSeries = Math.min(MAX_SERIES_PER_RULE, Math.max(100, Math.floor(MAX_SLOTS_PER_RULE / ring)));
    const piped = expr.selector.stages.length > 0 || expr.unwrap !== undefined;
    this.stages = piped ? compileStages(expr.selector.stages) : undefined;
    this.unwrap = expr.unwrap !== undefined ? new UnwrapExtractor(expr.unwrap) : undefined;
    let grouping = expr.grouping ?? pushedGrouping;
    if (expr.fn === 'absent_over_time') grouping = { without: false, labels: [] };
    // metrics_extraction.go LabelExtractorWithStages: no `by` → without (…, unwrapped label).
    if (expr.unwrap !== undefined && (grouping === undefined || grouping.without)) {
      grouping = { without: true, labels: [...(grouping?.labels ?? []), expr.unwrap.label] };
    }
    this.grouping = piped ? grouping : undefined;
    this.lb.hints = parserHintsFor(expr.selector.stages, expr.unwrap, expr.grouping ?? pushedGrouping, expr.fn);
  }

  /** Grid instant (bucket id) at or after a wall-clock time. */
  gridAtOrAfter(ms: number): number {
    return Math.ceil(ms / this.stepMs);
  }

  /** True when lines run through pipeline stages (parsers, label filters, unwrap …). */
  get piped(): boolean {
    return this.stages !== undefined;
  }

  /**
   * Add a matching event. `lastT` is the last grid instant evaluated: an event
   * at or before lastT·g − d can never be inside a future range. Returns
   * false when nothing was stored (too old, or dropped by the pipeline).
   */
  add(ev: LogEvent, lastT: number): boolean {
    if (this.stages === undefined) return this.addToStream(ev.stream.key, ev.stream.labels, ev, Buffer.byteLength(ev.line), lastT);
    const lb = this.lb;
    lb.reset(ev.stream.labels, ev.metadata);
    const line = runStages(this.stages, ev.line, lb, ev);
    if (line === undefined) {
      this.pipelineDropped++;
      return false;
    }
    let value = 0;
    if (this.unwrap !== undefined) {
      const v = this.unwrap.extract(lb);
      if (v === undefined) {
        this.pipelineDropped++;
        return false;
      }
      value = v;
    }
    const labels = lb.grouped(this.grouping);
    const key = labelsKey(labels);
    this.lastSeriesKey = key; // evidence hook (#18): the series this line went to
    this.lastSeriesLabels = labels;
    if (this.unwrap === undefined) return this.addToStream(key, labels, ev, this.trackBytes ? Buffer.byteLength(line) : 0, lastT);
    let s = this.unwrapSeries.get(key);
    if (s === undefined) {
      if (this.atSeriesLimit(ev)) return false;
      if (this.budget !== undefined && !this.budget.admit(this.seriesCount)) return false;
      s = { labels: Object.freeze(labels), window: new UnwrapWindow(this.rangeSlots, this.stepMs, NEEDS_SAMPLES.has(this.fn)) };
      const bucket = s.window.bucketOf(ev.timeMs, ev.timeNsRem);
      if (bucket <= lastT - this.slots) {
        this.tooOld++;
        return false;
      }
      this.unwrapSeries.set(key, s);
    }
    const r = s.window.add(s.window.bucketOf(ev.timeMs, ev.timeNsRem), ev.timeMs, ev.timeNsRem, value, lastT - this.slots);
    if (r === 'old') this.tooOld++;
    else if (r === 'full' && this.samplesDropped++ === 0) this.onSampleCap?.(s.labels);
    return r === 'ok';
  }

  /** A pipeline rule at its series limit refuses the line and fails evaluations its range could see. */
  private atSeriesLimit(ev: LogEvent): boolean {
    if (this.stages === undefined || this.series.size + this.unwrapSeries.size < this.maxSeries) return false;
    if (this.seriesRefused++ === 0) this.onSeriesLimit?.();
    const bucket = Math.ceil((2 * ev.timeMs + (ev.timeNsRem > 0 ? 1 : 0)) / (2 * this.stepMs));
    this.overflowUntil = Math.max(this.overflowUntil, bucket + this.slots - 1);
    return true;
  }

  private addToStream(key: string, labels: Readonly<Record<string, string>>, ev: LogEvent, byteLen: number, lastT: number): boolean {
    let s = this.series.get(key);
    if (s === undefined) {
      if (this.atSeriesLimit(ev)) return false;
      if (bucketOf(ev.timeMs, ev.timeNsRem, this.stepMs) <= lastT - this.slots) {
        this.tooOld++;
        return false;
      }
      if (this.budget !== undefined && !this.budget.admit(this.seriesCount)) return false;
      s = { labels: Object.isFrozen(labels) ? labels : Object.freeze(labels), window: new SlidingWindow(this.slots, this.stepMs, this.trackBytes, this.budget?.meter) };
      this.series.set(key, s);
    }
    const bucket = s.window.bucketOf(ev.timeMs, ev.timeNsRem);
    const ok = s.window.add(bucket, this.trackBytes ? byteLen : 0, lastT - this.slots);
    if (!ok) this.tooOld++;
    return ok;
  }

  /** The range vector's samples at grid instant T (t = T·g). Throws PipelineError for a sample with `__error__`. */
  evaluate(T: number): Sample[] {
    if (T <= this.overflowUntil) {
      // Let windows that ended free their series, so the rule recovers once the cardinality drops.
      for (const [key, s] of this.series) {
        s.window.query(T, this.scratch);
        if (s.window.empty) this.forget(key, s);
      }
      for (const [key, s] of this.unwrapSeries) {
        s.window.summary(T, this.summaryScratch);
        if (s.window.empty) this.unwrapSeries.delete(key);
      }
      throw new SeriesLimitError(this.maxSeries);
    }
    const out: Sample[] = [];
    const rangeSec = this.rangeMs / 1000;
    let anyPresent = false;
    for (const [key, s] of this.series) {
      s.window.queryOffset(T, this.offsetSlots, this.rangeSlots, this.scratch);
      if (this.scratch.count === 0) {
        if (s.window.empty) this.forget(key, s);
        continue;
      }
      anyPresent = true;
      if (this.fn !== 'absent_over_time' && this.piped && failsQuery(s.labels)) throw new PipelineError(s.labels);
      switch (this.fn) {
        case 'count_over_time':
          out.push({ labels: s.labels, value: this.scratch.count });
          break;
        case 'rate':
          out.push({ labels: s.labels, value: this.scratch.count / rangeSec });
          break;
        case 'bytes_over_time':
          out.push({ labels: s.labels, value: this.scratch.bytes });
          break;
        case 'bytes_rate':
          out.push({ labels: s.labels, value: this.scratch.bytes / rangeSec });
          break;
        default:
          break;
      }
    }
    for (const [key, s] of this.unwrapSeries) {
      const v = this.unwrapValue(s.window, T);
      if (v === undefined) {
        if (s.window.empty) this.unwrapSeries.delete(key);
        continue;
      }
      anyPresent = true;
      if (this.fn !== 'absent_over_time' && failsQuery(s.labels)) throw new PipelineError(s.labels);
      if (this.fn !== 'absent_over_time') out.push({ labels: s.labels, value: v });
    }
    if (this.fn === 'absent_over_time') return anyPresent ? [] : [{ labels: this.absentLabels, value: 1 }];
    return out;
  }

  /** Bytes held by the count windows (ring buffers), for memory accounting. */
  get memoryBytes(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.window.memoryBytes;
    return n;
  }

  /** One unwrapped series' value at T (range_vector.go aggregators), undefined when the range is empty. */
  private unwrapValue(w: UnwrapWindow, evalT: number): number | undefined {
    // With `offset` the range ends offset ago; the window holds the range only and is read there.
    const T = evalT - this.offsetSlots;
    const sum = this.summaryScratch;
    const rangeSec = this.rangeMs / 1000;
    if (NEEDS_SAMPLES.has(this.fn)) {
      const { ts, vs } = w.samplesIn(T);
      if (vs.length === 0) return undefined;
      switch (this.fn) {
        case 'quantile_over_time':
          return quantile(this.expr.param ?? 0, vs);
        case 'stdvar_over_time':
          return welford(vs);
        case 'stddev_over_time':
          return Math.sqrt(welford(vs));
        default:
          return counterRate(ts, vs, T * this.stepMs, this.rangeMs);
      }
    }
    w.summary(T, sum);
    if (sum.count === 0) return undefined;
    switch (this.fn) {
      case 'sum_over_time':
        return sum.sum;
      case 'rate':
        return sum.sum / rangeSec;
      case 'avg_over_time':
        return sum.sum / sum.count;
      case 'min_over_time':
        return sum.min;
      case 'max_over_time':
        return sum.max;
      case 'first_over_time':
        return sum.first;
      case 'last_over_time':
        return sum.last;
      default:
        return 1;
    }
  }

  /** Free a stream series' window (and its share of the window memory budget). */
  private forget(key: string, s: Series): void {
    s.window.release();
    this.series.delete(key);
  }

  /** Free every window (the rule is unloaded). */
  dispose(): void {
    for (const s of this.series.values()) s.window.release();
    this.series.clear();
    this.unwrapSeries.clear();
    this.budget?.close();
  }

  get seriesCount(): number {
    return this.series.size + this.unwrapSeries.size;
  }

  /** Count windows only: unwrapped samples are not persisted (they start empty after a restart). */
  snapshot(): Array<{ labels: Record<string, string>; key: string; buckets: Array<[number, number, number]> }> {
    return [...this.series].map(([key, s]) => ({ key, labels: { ...s.labels }, buckets: s.window.entries() }));
  }

  restore(series: ReadonlyArray<{ labels: Record<string, string>; key: string; buckets: Array<[number, number, number]> }>): void {
    if (this.unwrap !== undefined) return;
    for (const s of series) {
      const w = new SlidingWindow(this.slots, this.stepMs, this.trackBytes, this.budget?.meter);
      w.restore(s.buckets);
      if (!w.empty) this.series.set(s.key, { labels: Object.freeze({ ...s.labels }), window: w });
      else w.release();
    }
  }
}

/** evaluator.go RangeVectorEvaluator: a sample with `__error__` fails the query unless the error was asked for. */
function failsQuery(labels: Readonly<Record<string, string>>): boolean {
  return Object.hasOwn(labels, ERROR_LABEL) && labels[PRESERVE_ERROR_LABEL] !== 'true';
}

/** range_vector.go Quantile: weighted between neighbours; q<0 → −Inf, q>1 → +Inf. */
export function quantile(q: number, values: readonly number[]): number {
  if (values.length === 0) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const v = [...values].sort((a, b) => (Number.isNaN(a) ? -1 : Number.isNaN(b) ? 1 : a - b));
  const n = v.length;
  const rank = q * (n - 1);
  const lo = Math.max(0, Math.floor(rank));
  const hi = Math.min(n - 1, lo + 1);
  const w = rank - Math.floor(rank);
  return v[lo]! * (1 - w) + v[hi]! * w;
}

/** range_vector.go stdvarOverTime: Welford over the samples in time order. */
export function welford(vs: readonly number[]): number {
  let aux = 0;
  let count = 0;
  let mean = 0;
  for (const v of vs) {
    count++;
    const delta = v - mean;
    mean += delta / count;
    aux += delta * (v - mean);
  }
  return aux / count;
}

/** range_vector.go extrapolatedRate(isCounter, isRate): times in ms, range end t, range d. */
export function counterRate(ts: readonly number[], vs: readonly number[], endMs: number, rangeMs: number): number {
  const n = vs.length;
  if (n < 2) return 0;
  const startMs = endMs - rangeMs;
  let result = vs[n - 1]! - vs[0]!;
  let lastValue = 0;
  for (const v of vs) {
    if (v < lastValue) result += lastValue;
    lastValue = v;
  }
  let durationToStart = (ts[0]! - startMs) / 1000;
  let durationToEnd = (endMs - ts[n - 1]!) / 1000;
  const sampledInterval = (ts[n - 1]! - ts[0]!) / 1000;
  const avgBetween = sampledInterval / (n - 1);
  const threshold = avgBetween * 1.1;
  if (durationToStart >= threshold) durationToStart = avgBetween / 2;
  let durationToZero = durationToStart;
  if (result > 0 && vs[0]! >= 0) durationToZero = sampledInterval * (vs[0]! / result);
  if (durationToZero < durationToStart) durationToStart = durationToZero;
  if (durationToEnd >= threshold) durationToEnd = avgBetween / 2;
  const extrapolateTo = sampledInterval + durationToStart + durationToEnd;
  result = result * (extrapolateTo / sampledInterval);
  return result / (rangeMs / 1000);
}

/**
 * absent_over_time's labels, as Prometheus/Loki build them: walk the matchers in
 * order; an `=` matcher sets its label unless already set, any other matcher
 * (or a repeated `=`) removes it.
 */
function absentLabelsOf(matchers: readonly LabelMatcher[]): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const m of matchers) {
    if (m.op === '=' && !(m.name in out)) out[m.name] = m.value;
    else delete out[m.name];
  }
  return Object.freeze(out);
}
