/**
 * "Which rules does this line match?" for all rules at once. Stream selectors
 * depend on labels only, so the candidate rules of a label set are computed
 * once and cached on the interned LabelSet; line filters then run through one
 * shared literal prefilter across every candidate (LineFilterSet).
 */
import type { LogSelector } from '../logql/ast.js';
import type { LabelSet, LogEvent } from '../log-event.js';
import { LineFilterSet } from '../logql/line-filter-set.js';
import { compileLabelMatcher, type LabelTest } from '../logql/label-matcher.js';
import { TwoGenerationMap } from '../lib/two-generation-map.js';



/**
 * Bound on cached label sets (two generations of this many): sets in use stay,
 * one-off sets (a sender inventing label values) leave once unused.
 */
const CACHE_GENERATION = 10_000;

export class SelectorIndex {
  private readonly labelTests: LabelTest[][];
  private readonly filters: LineFilterSet;
  private readonly filterIds: number[];
  private readonly candidates = new TwoGenerationMap<LabelSet, number[]>(CACHE_GENERATION);

  constructor(selectors: readonly LogSelector[]) {
    this.labelTests = selectors.map((s) => s.matchers.map(compileLabelMatcher));
    this.filters = new LineFilterSet();
    this.filterIds = selectors.map((s) => this.filters.add(s.filters));
    this.filters.build();
  }

  private candidatesFor(set: LabelSet): number[] {
    let ids = this.candidates.get(set);
    if (ids !== undefined) return ids;
    ids = [];
    for (let i = 0; i < this.labelTests.length; i++) {
      const tests = this.labelTests[i]!;
      let ok = true;
      for (let j = 0; j < tests.length && ok; j++) ok = tests[j]!(set.labels);
      if (ok) ids.push(this.filterIds[i]!);
    }
    this.candidates.set(set, ids);
    return ids;
  }

  /** Writes the ids of the selectors that match `ev` into `out`; returns how many. */
  match(ev: LogEvent, out: number[]): number {
    const ids = this.candidatesFor(ev.stream);
    if (ids.length === 0) return 0;
    return this.filters.match(ev.line, ids, out);
  }
}
