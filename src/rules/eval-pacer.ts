/**
 * Keeps one expensive rule from eating the event loop. Lines evaluate the
 * rules they touch at once (per socket chunk); a rule holding thousands of
 * series (a label-inventing sender) costs tens of milliseconds per
 * evaluation, and at one evaluation per chunk it would starve every other
 * rule, the HTTP side and ingest. So a rule whose last evaluation took
 * longer than CHEAP_MS waits until its evaluations use at most DUTY of the
 * time before the next line-triggered one; cheap rules (every honest rule:
 * microseconds) never wait. The timer tick still evaluates every rule.
 */
import { performance } from 'node:perf_hooks';

/** Evaluations at or under this never delay the next one. */
const CHEAP_MS = 1;
/** Most of the time one rule's line-triggered evaluations may take. */
const DUTY = 0.2;

export interface DirtyMark {
  causeMs: number;
  maxEventMs: number;
}

export class EvalPacer<R extends object> {
  private readonly notBefore = new WeakMap<R, number>();
  private readonly waiting = new Map<R, DirtyMark>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;
  /** Line-triggered evaluations postponed (each merges the lines of one or more chunks). */
  deferred = 0;

  constructor(
    /** Called when postponed rules are due: mark them dirty again and flush. */
    private readonly due: (marks: ReadonlyMap<R, DirtyMark>) => void,
  ) {}

  /** After an evaluation that took `ms`. */
  record(rule: R, ms: number): void {
    if (ms <= CHEAP_MS) this.notBefore.delete(rule);
    else this.notBefore.set(rule, performance.now() + (ms * (1 - DUTY)) / DUTY);
  }

  /** Whether defer() would keep the rule waiting now (a cheap test before building its mark). */
  waits(rule: R): boolean {
    const at = this.notBefore.get(rule);
    return at !== undefined && !this.stopped && at > performance.now();
  }

  /** True when the rule must wait: its mark is kept and handed back when due. */
  defer(rule: R, mark: DirtyMark): boolean {
    const at = this.notBefore.get(rule);
    if (at === undefined || this.stopped) return false;
    const now = performance.now();
    if (at <= now) return false;
    const w = this.waiting.get(rule);
    if (w === undefined) this.waiting.set(rule, { ...mark });
    else {
      w.causeMs = Math.min(w.causeMs, mark.causeMs);
      w.maxEventMs = Math.max(w.maxEventMs, mark.maxEventMs);
    }
    this.deferred++;
    if (at < this.timerAt) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timerAt = at;
      this.timer = setTimeout(() => this.release(), Math.max(1, Math.ceil(at - now)));
      this.timer.unref();
    }
    return true;
  }

  private release(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.waiting.size === 0) return;
    const marks = new Map(this.waiting);
    this.waiting.clear();
    this.due(marks);
  }

  /** Hand back whatever waits, and never defer again (the engine is stopping). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.release();
  }
}

/**
 * Run `fn` over `items`, yielding to the event loop whenever a slice has run
 * `sliceMs`, so a timer tick over many heavy rules never stalls ingest and
 * HTTP for the sum of their costs. Stops early when `stillValid` turns false
 * (the rules were reloaded meanwhile).
 */
export async function runSliced<T>(items: readonly T[], fn: (item: T) => void, sliceMs: number, stillValid: () => boolean): Promise<void> {
  let sliceStart = performance.now();
  for (const item of items) {
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((r) => setImmediate(r));
      if (!stillValid()) return;
      sliceStart = performance.now();
    }
    fn(item);
  }
}
