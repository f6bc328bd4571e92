/**
 * The range aggregations ("legs") of one rule, each kept continuously by its
 * own RangeSource and all read at the same wall-clock instant, so
 * `sum(rate({…} |= "error" [5m])) / sum(rate({…}[1h]))` compares like with
 * like.
 *
 * Each leg has its own grid step g_i (sliding-window.ts: every leg is exact
 * at multiples of its step). The rule is evaluated at multiples of the least
 * common multiple of its legs' steps — instants that are on every leg's grid
 * — so every leg is exact whenever the rule is evaluated. With the usual
 * ranges (10 s – 1 h in whole seconds) every step is 1 s and so is the
 * rule's; a mix like [5m] and [2h] (steps 1 s and 2 s) is evaluated every
 * 2 s. A rule without legs (a constant expression) uses a 1 s grid.
 */
import type { Expr, RangeAggExpr } from '../logql/ast.js';
import { LogQLError } from '../logql/ast.js';
import type { LogEvent } from '../log-event.js';
import { evaluateExpr, pushedGroupings, rangeLeavesOf } from './expr-eval.js';
import type { Value } from './instant-vector.js';
import { RangeSource } from './range-source.js';
import type { RuleSeriesBudget } from './series-budget.js';
import { gridStepForOffset } from './sliding-window.js';

/** Coarsest common evaluation grid accepted for a rule with several legs (a longer one would delay alerts too much). */
export const MAX_RULE_STEP_MS = 60_000;
const DEFAULT_STEP_MS = 1000;

export type SeriesSnapshot = ReturnType<RangeSource['snapshot']>[number];

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function lcm(steps: readonly number[]): number {
  return steps.reduce((a, b) => (a / gcd(a, b)) * b, steps.length === 0 ? DEFAULT_STEP_MS : 1);
}

/**
 * Load-time check that a rule can be evaluated exactly: every leg has a grid
 * step (range and offset), and the rule's common step stays within
 * MAX_RULE_STEP_MS. Throws an `unsupported` LogQLError otherwise.
 */
export function checkEvaluable(expr: Expr): void {
  const steps: number[] = [];
  for (const leaf of rangeLeavesOf(expr)) {
    const step = gridStepForOffset(leaf.rangeMs, leaf.offsetMs ?? 0);
    if (step === undefined) {
      throw new LogQLError(`offset ${leaf.offsetMs}ms with range ${leaf.rangeMs}ms has no common evaluation grid (make the offset a multiple of a step of the range)`, leaf.pos, true);
    }
    steps.push(step);
  }
  const step = lcm(steps);
  // A long range alone has a coarse grid (sliding-window.ts gridStepFor); only a
  // common grid coarser than both that and a minute is refused.
  if (step > Math.max(MAX_RULE_STEP_MS, ...steps)) {
    throw new LogQLError(`the ranges' evaluation grids (${steps.join(', ')} ms) only meet every ${step} ms; use ranges in whole seconds`, expr.pos, true);
  }
}

export interface RuleLegsOptions {
  /** The rule's series budget (series-budget.ts), shared by its legs: each leg asks it before starting a series. */
  budget?: RuleSeriesBudget;
  /** Called once per leg when an unwrapped series first reaches its sample cap. */
  onSampleCap?: (labels: Readonly<Record<string, string>>) => void;
  /** Called once per leg when a pipeline leg first refuses a series at its limit. */
  onSeriesLimit?: (limit: number) => void;
}

export class RuleLegs {
  /** One source per leg, in the expression's left-to-right order. */
  readonly sources: RangeSource[];
  private readonly byLeaf = new Map<RangeAggExpr, RangeSource>();
  /** The rule's evaluation grid: the LCM of the legs' steps. */
  readonly stepMs: number;
  /** Longest history a leg keeps (range + offset), ms. */
  readonly rangeMs: number;

  constructor(readonly expr: Expr, opts: RuleLegsOptions = {}) {
    const leaves = rangeLeavesOf(expr);
    const pushed = pushedGroupings(expr);
    this.sources = leaves.map((l) => {
      const src = new RangeSource(l, pushed.get(l), opts.budget);
      src.onSampleCap = opts.onSampleCap;
      const onLimit = opts.onSeriesLimit;
      if (onLimit !== undefined) src.onSeriesLimit = () => onLimit(src.maxSeries);
      return src;
    });
    leaves.forEach((l, i) => this.byLeaf.set(l, this.sources[i]!));
    this.stepMs = lcm(this.sources.map((s) => s.stepMs));
    this.rangeMs = this.sources.reduce((m, s) => Math.max(m, s.slots * s.stepMs), 0);
  }

  /** Rule grid instant (in rule steps) at or after a wall-clock time. */
  gridAtOrAfter(ms: number): number {
    return Math.ceil(ms / this.stepMs);
  }

  /** Add a matching event to leg `leg`; `lastT` is the rule's last grid instant (rule steps). */
  add(leg: number, ev: LogEvent, lastT: number): boolean {
    const src = this.sources[leg]!;
    return src.add(ev, lastT === -Infinity ? lastT : (lastT * this.stepMs) / src.stepMs);
  }

  /** The expression's value at rule grid instant T (t = T·stepMs); every leg read at t. */
  evaluate(T: number): Value {
    const t = T * this.stepMs;
    return evaluateExpr(this.expr, (leaf) => {
      const src = this.byLeaf.get(leaf)!;
      return src.evaluate(t / src.stepMs);
    });
  }

  /** Lines too old for every range still to be evaluated, over all legs. */
  get tooOld(): number {
    return this.sources.reduce((n, s) => n + s.tooOld, 0);
  }

  /** Unwrapped samples refused at the per-series cap, over all legs. */
  get samplesDropped(): number {
    return this.sources.reduce((n, s) => n + s.samplesDropped, 0);
  }

  /** Series refused at a pipeline leg's series limit, over all legs. */
  get seriesRefused(): number {
    return this.sources.reduce((n, s) => n + s.seriesRefused, 0);
  }

  get seriesCount(): number {
    return this.sources.reduce((n, s) => n + s.seriesCount, 0);
  }

  get memoryBytes(): number {
    return this.sources.reduce((n, s) => n + s.memoryBytes, 0);
  }

  /** The rule is unloaded: free every leg's windows and budget share. */
  dispose(): void {
    for (const s of this.sources) s.dispose();
  }

  /** Per-leg series for the state file. */
  snapshot(): Array<{ stepMs: number; series: SeriesSnapshot[] }> {
    return this.sources.map((s) => ({ stepMs: s.stepMs, series: s.snapshot() }));
  }

  /** Restores the legs; false (nothing restored) when the legs' grids don't match the snapshot. */
  restore(legsIn: ReadonlyArray<{ stepMs: number; series: readonly SeriesSnapshot[] }>): boolean {
    // A rule without legs (a constant expression) is saved with one empty entry in the original fields.
    const legs = this.sources.length === 0 ? legsIn.filter((l) => l.series.length > 0) : legsIn;
    if (legs.length !== this.sources.length || legs.some((l, i) => l.stepMs !== this.sources[i]!.stepMs)) return false;
    legs.forEach((l, i) => this.sources[i]!.restore(l.series));
    return true;
  }
}
