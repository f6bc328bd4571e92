/**
 * A LogQL range aggregation (`count_over_time({…} |= "x" [5m])` and friends)
 * kept continuously: one SlidingWindow per stream that matched, freed when its
 * window empties. Evaluated at grid instants T·g.
 */
import type { LabelMatcher, RangeAggExpr, RangeFn } from '../logql/ast.js';
import type { Sample } from './instant-vector.js';
import { SlidingWindow, gridStepForOffset } from './sliding-window.js';
import type { LogEvent } from '../talos/log-event.js';

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly window: SlidingWindow;
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
  /** Lines that matched but were older than every range still to be evaluated. */
  tooOld = 0;
  private readonly scratch = { count: 0, bytes: 0 };
  /** Labels of absent_over_time's result: the selector's equality matchers. */
  private readonly absentLabels: Readonly<Record<string, string>>;

  constructor(readonly expr: RangeAggExpr) {
    this.fn = expr.fn;
    this.rangeMs = expr.rangeMs;
    const offsetMs = expr.offsetMs ?? 0;
    const step = gridStepForOffset(expr.rangeMs, offsetMs);
    // checkEvaluable (rules/leg-grid.ts) refuses such rules at load time.
    if (step === undefined) throw new Error(`no evaluation grid for range ${expr.rangeMs}ms with offset ${offsetMs}ms`);
    this.stepMs = step;
    this.rangeSlots = expr.rangeMs / step;
    this.offsetSlots = offsetMs / step;
    this.slots = this.rangeSlots + this.offsetSlots;
    this.trackBytes = expr.fn === 'bytes_over_time' || expr.fn === 'bytes_rate';
    this.absentLabels = absentLabelsOf(expr.selector.matchers);
  }

  /** Grid instant (bucket id) at or after a wall-clock time. */
  gridAtOrAfter(ms: number): number {
    return Math.ceil(ms / this.stepMs);
  }

  /**
   * Add a matching event. `lastT` is the last grid instant evaluated: an event
   * at or before lastT·g − d can never be inside a future range.
   */
  add(ev: LogEvent, lastT: number): boolean {
    const key = ev.stream.key;
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels: ev.stream.labels, window: new SlidingWindow(this.slots, this.stepMs, this.trackBytes) };
      const bucket = s.window.bucketOf(ev.timeMs, ev.timeNsRem);
      if (bucket <= lastT - this.slots) {
        this.tooOld++;
        return false;
      }
      this.series.set(key, s);
    }
    const bucket = s.window.bucketOf(ev.timeMs, ev.timeNsRem);
    const ok = s.window.add(bucket, this.trackBytes ? Buffer.byteLength(ev.line) : 0, lastT - this.slots);
    if (!ok) this.tooOld++;
    return ok;
  }

  /** The range vector's samples at grid instant T (t = T·g). */
  evaluate(T: number): Sample[] {
    const out: Sample[] = [];
    const rangeSec = this.rangeMs / 1000;
    let anyPresent = false;
    for (const [key, s] of this.series) {
      s.window.queryOffset(T, this.offsetSlots, this.rangeSlots, this.scratch);
      if (this.scratch.count === 0) {
        if (s.window.empty) this.series.delete(key);
        continue;
      }
      anyPresent = true;
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
        case 'absent_over_time':
          break;
      }
    }
    if (this.fn === 'absent_over_time') return anyPresent ? [] : [{ labels: this.absentLabels, value: 1 }];
    return out;
  }

  /** Bytes held by the windows (ring buffers), for memory accounting. */
  get memoryBytes(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.window.memoryBytes;
    return n;
  }

  get seriesCount(): number {
    return this.series.size;
  }

  snapshot(): Array<{ labels: Record<string, string>; key: string; buckets: Array<[number, number, number]> }> {
    return [...this.series].map(([key, s]) => ({ key, labels: { ...s.labels }, buckets: s.window.entries() }));
  }

  restore(series: ReadonlyArray<{ labels: Record<string, string>; key: string; buckets: Array<[number, number, number]> }>): void {
    for (const s of series) {
      const w = new SlidingWindow(this.slots, this.stepMs, this.trackBytes);
      w.restore(s.buckets);
      if (!w.empty) this.series.set(s.key, { labels: Object.freeze({ ...s.labels }), window: w });
    }
  }
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
