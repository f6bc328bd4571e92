/**
 * The rules touched by lines since the last flush, by rule id, each with the
 * earliest cause (receive time) and the latest event time. Marked for every
 * stored line and drained once per socket chunk: typed arrays indexed by rule
 * id, so neither marking nor draining allocates (a Map with a mark object per
 * rule churned a table and objects per chunk, which at a high match rate were
 * promoted and grew the old generation).
 */
export class DirtyRules {
  private ids = new Int32Array(0);
  private marked = new Uint8Array(0);
  private cause = new Float64Array(0);
  private maxEvent = new Float64Array(0);
  // The batch being drained, so marks made while it runs go to the next one.
  private batchIds = new Int32Array(0);
  private batchCause = new Float64Array(0);
  private batchMaxEvent = new Float64Array(0);
  private n = 0;
  private draining = false;

  constructor(rules = 0) {
    this.reset(rules);
  }

  /** Forget every mark and hold ids 0..rules-1. */
  reset(rules: number): void {
    this.ids = new Int32Array(rules);
    this.marked = new Uint8Array(rules);
    this.cause = new Float64Array(rules);
    this.maxEvent = new Float64Array(rules);
    this.batchIds = new Int32Array(rules);
    this.batchCause = new Float64Array(rules);
    this.batchMaxEvent = new Float64Array(rules);
    this.n = 0;
  }

  get size(): number {
    return this.n;
  }

  has(id: number): boolean {
    return this.marked[id] === 1;
  }

  mark(id: number, causeMs: number, eventMs: number): void {
    if (this.marked[id] === 1) {
      if (causeMs < this.cause[id]!) this.cause[id] = causeMs;
      if (eventMs > this.maxEvent[id]!) this.maxEvent[id] = eventMs;
      return;
    }
    this.marked[id] = 1;
    this.ids[this.n++] = id;
    this.cause[id] = causeMs;
    this.maxEvent[id] = eventMs;
  }

  /**
   * Clear the marks, then call `fn` for each (in marking order); `fn` may mark
   * again (next batch). A drain from inside `fn` does nothing: its marks wait
   * for the next one.
   */
  drain(fn: (id: number, causeMs: number, maxEventMs: number) => void): void {
    const count = this.n;
    if (count === 0 || this.draining) return;
    const { ids, batchIds, batchCause, batchMaxEvent } = this;
    for (let i = 0; i < count; i++) {
      const id = ids[i]!;
      batchIds[i] = id;
      batchCause[i] = this.cause[id]!;
      batchMaxEvent[i] = this.maxEvent[id]!;
      this.marked[id] = 0;
    }
    this.n = 0;
    this.draining = true;
    try {
      for (let i = 0; i < count; i++) fn(batchIds[i]!, batchCause[i]!, batchMaxEvent[i]!);
    } finally {
      this.draining = false;
    }
  }
}
