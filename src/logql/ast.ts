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
  /** Chained stages: all must pass. */
  filters: LineFilter[];
  pos: Pos;
}

export type RangeFn = 'count_over_time' | 'rate' | 'bytes_over_time' | 'bytes_rate' | 'absent_over_time';

export interface RangeAggExpr {
  type: 'range';
  fn: RangeFn;
  selector: LogSelector;
  rangeMs: number;
  pos: Pos;
}

export type VectorAggOp = 'sum' | 'count' | 'min' | 'max' | 'avg';

export interface Grouping {
  without: boolean;
  labels: string[];
}

export interface VectorAggExpr {
  type: 'vector_agg';
  op: VectorAggOp;
  /** Absent: aggregate everything into one series with no labels. */
  grouping: Grouping | undefined;
  inner: Expr;
  pos: Pos;
}

export type ArithOp = '+' | '-' | '*' | '/' | '%' | '^';
export type CompareOp = '==' | '!=' | '>' | '<' | '>=' | '<=';

/**
 * Binary operation where at least one side is a number literal (vector-scalar
 * or scalar-scalar). Vector-vector operations are unsupported.
 */
export interface BinaryExpr {
  type: 'binary';
  op: ArithOp | CompareOp;
  /** `bool` modifier on a comparison: yield 0/1 instead of filtering. */
  bool: boolean;
  lhs: Expr;
  rhs: Expr;
  pos: Pos;
}

export interface NumberLiteral {
  type: 'number';
  value: number;
  pos: Pos;
}

export type Expr = RangeAggExpr | VectorAggExpr | BinaryExpr | NumberLiteral;

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
