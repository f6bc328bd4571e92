/**
 * Loki's parser hints (pkg/logql/log/parser_hints.go) for metric queries:
 * from the labels a query needs (label filters, templates, grouping, the
 * unwrapped label) the parsers extract only those and stop parsing once
 * they have them all; with `by ()` and nothing needed they do not parse at
 * all. This is not only speed: a line whose JSON breaks after the needed
 * fields, or `sum(count_over_time({…} | json [5m]))` over non-JSON lines, is
 * no parse error in Loki, so it is none here either. Errors are "preserved"
 * (kept as data, not a query failure) when the hints name `__error__`.
 */
import type { Grouping, PipelineStage, RangeFn, Unwrap } from '../ast.js';
import { filterLabelNames } from './label-filter.js';

// labels-builder.ts's constants, repeated to keep the import graph acyclic.
const ERROR_LABEL = '__error__';
const DUPLICATE_SUFFIX = '_extracted';

/** What a parser asks (LabelsBuilder.extracted tells which names are already set). */
export interface ExtractedNames {
  extracted(name: string): boolean;
}

export class ParserHints {
  constructor(
    /** Names to extract; undefined: every name. */
    readonly required: readonly string[] | undefined,
    private readonly nothing: boolean,
    readonly preserveError: boolean,
  ) {}

  shouldExtract(key: string): boolean {
    return this.required === undefined || this.required.includes(key);
  }

  /** Some required name starts with this (sanitised, `_`-joined) JSON prefix. */
  shouldExtractPrefix(prefix: string): boolean {
    return this.required === undefined || this.required.some((l) => l.startsWith(prefix));
  }

  allRequiredExtracted(lb: ExtractedNames): boolean {
    return this.required !== undefined && this.required.every((l) => lb.extracted(l));
  }

  /** Nothing (more) to extract: parsers return at once. */
  noLabels(lb: ExtractedNames): boolean {
    return this.nothing || this.allRequiredExtracted(lb);
  }
}

/** No hints: extract everything (log queries, `without`, no grouping). */
export const EXTRACT_ALL = new ParserHints(undefined, false, false);

const FIELD = /\.([A-Za-z_][A-Za-z0-9_]*)/g;

/** Label names a template reads (fmt.go listNodeFields): `.name` fields in its actions. */
function templateFields(t: string): string[] {
  const out: string[] = [];
  for (const action of t.match(/\{\{[\s\S]*?\}\}/g) ?? []) {
    const noStrings = action.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '');
    for (const m of noStrings.matchAll(FIELD)) out.push(m[1]!);
  }
  return out;
}

/** RequiredLabelNames of the stages (label filters, templates, label_format renames). */
export function requiredLabelNames(stages: readonly PipelineStage[], unwrap: Unwrap | undefined): string[] {
  const out: string[] = [];
  for (const st of stages) {
    if (st.k === 'label_filter') out.push(...filterLabelNames(st.filter));
    else if (st.k === 'line_format') out.push(...templateFields(st.template));
    else if (st.k === 'label_format') for (const it of st.items) out.push(...(it.rename !== undefined ? [it.rename] : templateFields(it.template ?? '')));
  }
  for (const f of unwrap?.postFilters ?? []) out.push(...filterLabelNames(f));
  return out;
}

/**
 * NewParserHint for a range aggregation's sample extractor, given its
 * effective grouping (its own `by`/`without`, or an enclosing `sum`'s).
 */
export function parserHintsFor(stages: readonly PipelineStage[], unwrap: Unwrap | undefined, grouping: Grouping | undefined, fn: RangeFn): ParserHints {
  let groups = grouping?.labels ?? [];
  let without = grouping?.without ?? false;
  const noLabels = fn === 'absent_over_time' || (grouping !== undefined && !grouping.without && grouping.labels.length === 0);
  // metrics_extraction.go LabelExtractorWithStages: unwrap without `by` groups `without (label)`.
  if (unwrap !== undefined && (groups.length === 0 || without)) {
    without = true;
    groups = [...groups, unwrap.label];
  }
  const names: string[] = [];
  for (const l of [...requiredLabelNames(stages, unwrap), ...groups, ...(unwrap !== undefined ? [unwrap.label] : [])]) {
    if (l === '') continue;
    names.push(l);
    if (l.endsWith(DUPLICATE_SUFFIX)) names.push(l.slice(0, -DUPLICATE_SUFFIX.length));
  }
  const hints = [...new Set(names)];
  const preserve = hints.includes(ERROR_LABEL);
  if (noLabels) return hints.length > 0 ? new ParserHints(hints, false, preserve) : new ParserHints(undefined, true, false);
  if (without || groups.length === 0) return EXTRACT_ALL;
  return new ParserHints(hints, false, preserve);
}
