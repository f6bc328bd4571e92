/**
 * The LogQL subset the sidecar evaluates, as a typed tree. The parser
 * (parse.ts) produces it; the evaluator (rules/expr-eval.ts) walks it.
 * Anything else in LogQL is rejected at load time with a LogQLError whose
 * `unsupported` flag is set.
 */

/** Position in the expression text (0-based offset, 1-based line/column). */
export interface Pos {
  offset: number;
  line: number;
  column: number;
}

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  /** Unescaped value (for =~/!~ the RE2 source, anchored at evaluation as ^(?:re)$). */
  value: string;
  pos: Pos;
}

export type LineFilterOp = '|=' | '!=' | '|~' | '!~';

/**
 * One line filter stage. `values` has more than one entry for `|= "a" or "b"`
 * (any of them), which for negative ops means none of them.
 */
export interface LineFilter {
  op: LineFilterOp;
  values: string[];
  pos: Pos;
}

export interface LogSelector {
  matchers: LabelMatcher[];
  /**
   * Line filters on the line as received: every line filter written before
   * the first stage that rewrites the line (line_format, unpack,
   * decolorize). They commute with parsers and label filters, so they run
   * first, through the shared literal prefilter. All must pass.
   */
  filters: LineFilter[];
  /** The rest of the pipeline, in order (empty for a plain selector with line filters). */
  stages: PipelineStage[];
  pos: Pos;
}

/** `name="expr"` of `| json name="a.b[0]"` and `| logfmt name="key"` (a bare `name` means name="name"). */
export interface ExtractionExpr {
  identifier: string;
  expression: string;
}

/** Label filter expression (`| a="b" or c > 5`); see logql/stages/label-filter.ts. */
export type NumCmp = '==' | '!=' | '>' | '>=' | '<' | '<=';
export type LabelFilterExpr =
  | { k: 'string'; name: string; op: MatchOp; value: string }
  | { k: 'number'; name: string; op: NumCmp; value: number }
  | { k: 'duration'; name: string; op: NumCmp; /** nanoseconds */ value: number }
  | { k: 'bytes'; name: string; op: NumCmp; value: number }
  | { k: 'ip'; name: string; op: '=' | '!='; pattern: string }
  | { k: 'and' | 'or'; left: LabelFilterExpr; right: LabelFilterExpr };

/** `| label_format dst=src` (rename) or `dst="{{template}}"`. */
export interface LabelFormatItem {
  dst: string;
  rename: string | undefined;
  template: string | undefined;
}

/** `| drop a, b="x"` / `| keep …`: a name, or a name with a matcher on its value. */
export interface NamedMatcher {
  name: string;
  matcher: LabelMatcher | undefined;
}

export type PipelineStage =
  | { k: 'line_filter'; filter: LineFilter }
  | { k: 'ip_line_filter'; negate: boolean; pattern: string; pos: Pos }
  /** `|> "<_> error <_>"` / `!>`: pattern line filters, any of `patterns` (none of them for `!>`). */
  | { k: 'pattern_line_filter'; negate: boolean; patterns: string[]; pos: Pos }
  | { k: 'json'; exprs: ExtractionExpr[] | undefined; pos: Pos }
  | { k: 'logfmt'; strict: boolean; keepEmpty: boolean; exprs: ExtractionExpr[] | undefined; pos: Pos }
  | { k: 'regexp'; pattern: string; pos: Pos }
  | { k: 'pattern'; pattern: string; pos: Pos }
  | { k: 'unpack'; pos: Pos }
  | { k: 'label_filter'; filter: LabelFilterExpr; pos: Pos }
  | { k: 'line_format'; template: string; pos: Pos }
  | { k: 'label_format'; items: LabelFormatItem[]; pos: Pos }
  | { k: 'decolorize'; pos: Pos }
  | { k: 'drop' | 'keep'; items: NamedMatcher[]; pos: Pos };

export type UnwrapConv = '' | 'duration' | 'duration_seconds' | 'bytes';

/** `| unwrap [conv(]label[)]` and the label filters after it. */
export interface Unwrap {
  label: string;
  conv: UnwrapConv;
  postFilters: LabelFilterExpr[];
  pos: Pos;
}

export type RangeFn =
  | 'count_over_time' | 'rate' | 'bytes_over_time' | 'bytes_rate' | 'absent_over_time'
  | 'rate_counter' | 'sum_over_time' | 'avg_over_time' | 'min_over_time' | 'max_over_time'
  | 'stdvar_over_time' | 'stddev_over_time' | 'quantile_over_time' | 'first_over_time' | 'last_over_time';

export interface RangeAggExpr {
  type: 'range';
  fn: RangeFn;
  selector: LogSelector;
  rangeMs: number;
  /** `offset` modifier (ms): the range is (t−offset−range, t−offset]. Absent: 0. */
  offsetMs?: number;
  /** quantile_over_time's φ. */
  param: number | undefined;
  unwrap: Unwrap | undefined;
  /** `by`/`without` on the range aggregation itself (only the functions Loki allows). */
  grouping: Grouping | undefined;
  pos: Pos;
}

export type VectorAggOp = 'sum' | 'count' | 'min' | 'max' | 'avg' | VectorAggOp2;

export interface Grouping {
  without: boolean;
  labels: string[];
}

export interface VectorAggExpr {
  type: 'vector_agg';
  op: VectorAggOp;
  /** topk/bottomk's k (a positive integer); absent for the other operations. */
  param?: number;
  /** Absent: aggregate everything into one series with no labels. */
  grouping: Grouping | undefined;
  inner: Expr;
  pos: Pos;
}

export type ArithOp = '+' | '-' | '*' | '/' | '%' | '^';
export type CompareOp = '==' | '!=' | '>' | '<' | '>=' | '<=';

/**
 * Binary operation: vector-scalar (one side a number literal) or, with
 * `matching`, vector-vector (see VectorMatching, issue #14).
 */
export interface BinaryExpr {
  type: 'binary';
  op: ArithOp | CompareOp | SetOp;
  /** `bool` modifier on a comparison: yield 0/1 instead of filtering. */
  bool: boolean;
  lhs: Expr;
  rhs: Expr;
  /** Vector matching of a vector-vector operation (absent when a side is a literal). */
  matching?: VectorMatching;
  pos: Pos;
}

export interface NumberLiteral {
  type: 'number';
  value: number;
  pos: Pos;
}

export type Expr = RangeAggExpr | VectorAggExpr | BinaryExpr | NumberLiteral | VectorLiteral | LabelReplaceExpr;

const NO_CHILDREN: readonly Expr[] = [];

/** The direct sub-expressions of a node, left to right: one walk shape for every tree visitor. */
export function subExpressions(e: Expr): readonly Expr[] {
  switch (e.type) {
    case 'vector_agg':
    case 'label_replace':
      return [e.inner];
    case 'binary':
      return [e.lhs, e.rhs];
    case 'range':
    case 'number':
    case 'vector':
      return NO_CHILDREN;
  }
}

// ---- Vector algebra (issue #14): kept apart from the rest to ease merging. ----

/** Aggregations beyond sum/count/min/max/avg. */
export type VectorAggOp2 = 'stddev' | 'stdvar' | 'topk' | 'bottomk' | 'sort' | 'sort_desc';

/** Set operators between two vectors. */
export type SetOp = 'and' | 'or' | 'unless';

/**
 * PromQL/LogQL vector matching (Loki pkg/logql/syntax/syntax.y binOpModifier):
 * one-to-one unless group_left (many-to-one) or group_right (one-to-many).
 */
export interface VectorMatching {
  card: 'one-to-one' | 'many-to-one' | 'one-to-many';
  /** `on(labels)`: match on exactly these; otherwise `ignoring(labels)` (possibly empty). */
  on: boolean;
  labels: string[];
  /** group_left/group_right(labels): copied from the "one" side. */
  include: string[];
}

/** `vector(s)`: one sample with no labels. */
export interface VectorLiteral {
  type: 'vector';
  value: number;
  pos: Pos;
}

/** `label_replace(v, dst, replacement, src, regex)`; regex anchored as ^(?:re)$. */
export interface LabelReplaceExpr {
  type: 'label_replace';
  inner: Expr;
  dst: string;
  replacement: string;
  src: string;
  regex: string;
  pos: Pos;
}

/** Syntax error, or valid LogQL this engine does not run (`unsupported`). */
export class LogQLError extends Error {
  constructor(
    message: string,
    readonly pos: Pos,
    readonly unsupported: boolean,
  ) {
    super(`${pos.line}:${pos.column}: ${message}`);
    this.name = 'LogQLError';
  }
}
