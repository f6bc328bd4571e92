/**
 * The labels of one log line while it runs through a LogQL pipeline, as
 * Loki's LabelsBuilder keeps them (pkg/logql/log/labels.go): the stream
 * labels (base), structured metadata, and labels set by parsers and
 * formatters, with deletions and the `__error__` / `__error_details__` pair.
 *
 * Precedence on write (LabelsBuilder.Set): a parsed label replaces a
 * structured-metadata or stream label of the same name; metadata replaces a
 * stream label but never a parsed one. Reads look at the added categories
 * first, then the (not deleted) stream labels.
 */

import { EXTRACT_ALL, type ParserHints } from './parser-hints.js';

export const ERROR_LABEL = '__error__';
export const ERROR_DETAILS_LABEL = '__error_details__';
/** Suffix parsers add when an extracted name collides with a stream or metadata label. */
export const DUPLICATE_SUFFIX = '_extracted';
/** Set on lines whose parser error the query asked for (logqlmodel.PreserveErrorLabel). */
export const PRESERVE_ERROR_LABEL = '__preserve_error__';

export const enum Category {
  Stream = 0,
  Metadata = 1,
  Parsed = 2,
}

export type Labels = Readonly<Record<string, string>>;

const VALID_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const nameCache = new Map<string, string>();

/**
 * Structured-metadata names as Loki (≥ 3.4) stores them and queries see them:
 * invalid characters become `_`, a leading digit gets a `_` prefix
 * (`compact-revision` → `compact_revision`). Same rule as the Loki sink.
 */
export function metadataName(name: string): string {
  if (VALID_NAME.test(name)) return name;
  let out = nameCache.get(name);
  if (out === undefined) {
    out = name.replace(/[^a-zA-Z0-9_]/g, '_');
    if (out === '' || (out.charCodeAt(0) >= 48 && out.charCodeAt(0) <= 57)) out = `_${out}`;
    if (nameCache.size < 1024) nameCache.set(name, out);
  }
  return out;
}

export class LabelsBuilder {
  base: Labels = {};
  /** Added labels per category (stream overrides, structured metadata, parsed). */
  private readonly add: [Map<string, string>, Map<string, string>, Map<string, string>] = [new Map(), new Map(), new Map()];
  private readonly del = new Set<string>();
  /**
   * Names parsers set on this line. Loki's parsers skip a name already
   * extracted (ParserHint.Extracted, recorded on every parsed Set even
   * without hints), so for duplicate keys the first wins and a later parser
   * does not overwrite an earlier one.
   */
  private readonly extractedNames = new Set<string>();
  err = '';
  errDetails = '';
  /** What the query needs extracted (parser_hints.go); default: everything. */
  hints: ParserHints = EXTRACT_ALL;

  /** Start a new line of stream `base` with its structured metadata. */
  reset(base: Labels, metadata: Labels | undefined): void {
    this.base = base;
    this.add[0].clear();
    this.add[1].clear();
    this.add[2].clear();
    this.del.clear();
    this.extractedNames.clear();
    this.err = '';
    this.errDetails = '';
    if (metadata !== undefined) {
      // LabelsBuilder.Add: a metadata name that is also a stream label gets the suffix.
      for (const k in metadata) {
        const n = metadataName(k);
        const name = Object.hasOwn(base, n) ? n + DUPLICATE_SUFFIX : n;
        if (name === ERROR_LABEL) this.err = metadata[k]!;
        else if (name === ERROR_DETAILS_LABEL) this.errDetails = metadata[k]!;
        else this.set(Category.Metadata, name, metadata[k]!);
      }
    }
  }

  /** True when nothing was added or deleted (the line's labels are the stream's). */
  get unchanged(): boolean {
    return this.add[0].size === 0 && this.add[1].size === 0 && this.add[2].size === 0 && this.del.size === 0 && this.err === '' && this.errDetails === '';
  }

  baseHas(name: string): boolean {
    return Object.hasOwn(this.base, name);
  }

  hasMetadata(name: string): boolean {
    return this.add[Category.Metadata].has(name);
  }

  /** The collision rule of every parser: stream or metadata label of that name → `name_extracted`. */
  parsedName(name: string): string {
    return this.baseHas(name) || this.hasMetadata(name) ? name + DUPLICATE_SUFFIX : name;
  }

  get(name: string): string | undefined {
    for (let c = 0; c < 3; c++) {
      const v = this.add[c]!.get(name);
      if (v !== undefined) return v;
    }
    if (this.del.has(name)) return undefined;
    const v = Object.hasOwn(this.base, name) ? this.base[name]! : '';
    return v !== '' ? v : undefined;
  }

  /** A label's value for label filters: `__error__` reads the error, a missing label is "". */
  value(name: string): string {
    if (name === ERROR_LABEL) return this.err;
    if (name === ERROR_DETAILS_LABEL) return this.errDetails;
    return this.get(name) ?? '';
  }

  set(category: Category, name: string, value: string): void {
    if (category === Category.Parsed) {
      this.add[Category.Metadata].delete(name);
      this.add[Category.Stream].delete(name);
    } else if (category === Category.Metadata) {
      this.add[Category.Stream].delete(name);
      if (this.add[Category.Parsed].has(name)) return;
    } else if (this.add[Category.Metadata].has(name) || this.add[Category.Parsed].has(name)) {
      return;
    }
    this.add[category].set(name, value);
    if (category === Category.Parsed) this.extractedNames.add(name);
  }

  /** Already set by a parser (or label_format) on this line. */
  extracted(name: string): boolean {
    return this.extractedNames.has(name);
  }

  delete(name: string): void {
    if (name === ERROR_LABEL) {
      this.err = '';
      return;
    }
    if (name === ERROR_DETAILS_LABEL) {
      this.errDetails = '';
      return;
    }
    for (const m of this.add) m.delete(name);
    this.del.add(name);
  }

  setError(err: string, details: string | undefined): void {
    this.err = err;
    if (details !== undefined) this.errDetails = details;
  }

  /** A parser's error (addErrLabel): also marks the line when errors are preserved. */
  setParserError(err: string, details: string | undefined): void {
    this.setError(err, details);
    // The query asked for `__error__` (parser.go addErrLabel): kept as data, not a query error.
    if (this.hints.preserveError) this.set(Category.Parsed, PRESERVE_ERROR_LABEL, 'true');
  }

  /** Every label name currently present (for keep/drop and label_format). */
  names(): string[] {
    const out = new Set<string>();
    for (const k in this.base) if (!this.del.has(k) && this.base[k] !== '') out.add(k);
    for (const m of this.add) for (const k of m.keys()) out.add(k);
    if (this.err !== '') out.add(ERROR_LABEL);
    if (this.errDetails !== '') out.add(ERROR_DETAILS_LABEL);
    return [...out];
  }

  /** The line's full label set (LabelsResult): stream, metadata, parsed, then the error pair. */
  labels(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k in this.base) {
      if (this.del.has(k)) continue;
      out[k] = this.base[k]!;
    }
    for (const m of this.add) for (const [k, v] of m) out[k] = v;
    if (this.err !== '') out[ERROR_LABEL] = this.err;
    if (this.errDetails !== '') out[ERROR_DETAILS_LABEL] = this.errDetails;
    return out;
  }

  /**
   * The sample's labels after a range aggregation's grouping
   * (LabelsBuilder.GroupedLabels): with an error, all labels (so the error
   * is seen); `by ()` → none; `by (a, b)` → those present; `without (a)` →
   * all but those.
   */
  grouped(grouping: { without: boolean; labels: readonly string[] } | undefined): Record<string, string> {
    if (this.err !== '' || grouping === undefined) return this.labels();
    const out: Record<string, string> = {};
    if (!grouping.without) {
      for (const g of grouping.labels) {
        const v = this.get(g);
        if (v !== undefined) out[g] = v;
      }
      return out;
    }
    const all = this.labels();
    for (const k in all) if (!grouping.labels.includes(k)) out[k] = all[k]!;
    return out;
  }
}
