/**
 * Over 400 lines: one recursive-descent parser over one token stream; its productions share the position and error state.
 * LogQL → AST for what the sidecar runs (see ast.ts, docs/logql-support.md),
 * following Loki's grammar (pkg/logql/syntax/syntax.y) and validation; the
 * log pipeline (stages, label filters, unwrap) is parse-pipeline.ts. Over
 * 400 lines: one grammar, one file.
 *
 * Hand-written recursive descent rather than Grafana's lezer grammar: we need
 * precise "expected X" messages with line/column, Go string unescaping, RE2
 * validation at the string's position, Loki's constant folding and checks,
 * and a typed tree — a lezer tree gives none of that, and its error recovery
 * only marks an error node. Lezer (@grafana/lezer-logql) is still used as an
 * oracle: when our parser meets syntax it doesn't know and lezer parses the
 * whole text cleanly, the query is valid LogQL outside our subset, and the
 * error is reported as `unsupported`, naming the construct lezer found there.
 */
import { createRequire } from 'node:module';
import type { parser as LezerParser } from '@grafana/lezer-logql';
import {
  type ArithOp,
  type BinaryExpr,
  type CompareOp,
  type Expr,
  type Grouping,
  type LabelMatcher,
  type LogSelector,
  type PipelineStage,
  type Unwrap,
  LogQLError,
  subExpressions,
  type MatchOp,
  type NumberLiteral,
  type Pos,
  type RangeFn,
  type SetOp,
  type VectorAggOp,
  type VectorMatching,
} from './ast.js';
import { Lexer, type Token } from './lexer.js';
import { type TokenCursor, parsePipeline } from './parse-pipeline.js';
import { compileStages } from './pipeline.js';

/** Stages that rewrite the line: line filters after them see the new line. */
const LINE_REWRITERS = new Set<PipelineStage['k']>(['line_format', 'unpack', 'decolorize']);

/**
 * Line filters before the first line-rewriting stage go to `filters` (they
 * commute with parsers and label filters, so the shared prefilter runs them
 * first); everything else stays in order in `stages`.
 */
function splitPipeline(sel: LogSelector, stages: readonly PipelineStage[]): void {
  let rewritten = false;
  for (const st of stages) {
    if (!rewritten && st.k === 'line_filter') sel.filters.push(st.filter);
    else sel.stages.push(st);
    if (LINE_REWRITERS.has(st.k)) rewritten = true;
  }
}
import { Re2SyntaxError, checkRe2, compileLabelRegex } from '../re2/re2.js';

/** Loki's maxInputSize. */
const MAX_INPUT = 5120;

const RANGE_FNS = new Set<RangeFn>([
  'count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'absent_over_time',
  'rate_counter', 'avg_over_time', 'sum_over_time', 'min_over_time', 'max_over_time', 'stdvar_over_time',
  'stddev_over_time', 'quantile_over_time', 'first_over_time', 'last_over_time',
]);
/** Range functions that may only run over `| unwrap` (syntax/ast.go RangeAggregationExpr.validate). */
const NEEDS_UNWRAP = new Set<RangeFn>([
  'rate_counter', 'avg_over_time', 'sum_over_time', 'min_over_time', 'max_over_time', 'stdvar_over_time',
  'stddev_over_time', 'quantile_over_time', 'first_over_time', 'last_over_time',
]);
/** Range functions that refuse `| unwrap`. */
const NO_UNWRAP = new Set<RangeFn>(['count_over_time', 'bytes_over_time', 'bytes_rate']);
/** Range functions that take `by`/`without` themselves. */
const GROUPABLE = new Set<RangeFn>([
  'avg_over_time', 'stddev_over_time', 'stdvar_over_time', 'quantile_over_time', 'max_over_time', 'min_over_time',
  'first_over_time', 'last_over_time',
]);
const VECTOR_OPS = new Set<VectorAggOp>(['sum', 'count', 'min', 'max', 'avg', 'stddev', 'stdvar', 'topk', 'bottomk', 'sort', 'sort_desc']);
/** approx_topk needs Loki's probabilistic sharding (query frontend only); the ruler can't run it either. */
const UNSUPPORTED_VECTOR_OPS = new Set(['approx_topk']);

interface BinInfo {
  op: ArithOp | CompareOp | 'and' | 'or' | 'unless';
  prec: number;
  right: boolean;
}

const BIN_OPS: Record<string, BinInfo> = {
  or: { op: 'or', prec: 1, right: false },
  and: { op: 'and', prec: 2, right: false },
  unless: { op: 'unless', prec: 2, right: false },
  '==': { op: '==', prec: 3, right: false },
  '!=': { op: '!=', prec: 3, right: false },
  '>': { op: '>', prec: 3, right: false },
  '>=': { op: '>=', prec: 3, right: false },
  '<': { op: '<', prec: 3, right: false },
  '<=': { op: '<=', prec: 3, right: false },
  '+': { op: '+', prec: 4, right: false },
  '-': { op: '-', prec: 4, right: false },
  '*': { op: '*', prec: 5, right: false },
  '/': { op: '/', prec: 5, right: false },
  '%': { op: '%', prec: 5, right: false },
  '^': { op: '^', prec: 6, right: true },
};
const COMPARE = new Set(['==', '!=', '>', '>=', '<', '<=']);

const EMPTY_MATCHER_ERROR =
  'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will';

/** Intermediate results: a metric expression, or a log query (only valid inside a range aggregation). */
type Node = { k: 'expr'; e: Expr } | { k: 'log'; sel: LogSelector; rangeMs: number | undefined; pos: Pos };

interface LogRange {
  sel: LogSelector;
  range: Token | undefined;
  unwrap: Unwrap | undefined;
}

/** Errors the lezer oracle may turn into `unsupported` (plain "unexpected token" syntax errors). */
const SYNTAX_ERRORS = new WeakSet<LogQLError>();

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'string':
      return `string ${t.text}`;
    case 'ident':
      return `identifier "${t.text}"`;
    case 'number':
      return `number ${t.text}`;
    case 'range':
      return `range ${t.text}`;
    case 'duration':
      return `duration ${t.text}`;
    default:
      return `"${t.text}"`;
  }
}

/** Go's math.Pow special cases where they differ from JS `**`. */
function goPow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (x === -1 && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return x ** y;
}

/** Loki's reduceBinOp: both legs literal → one literal (comparisons give 0/1, x/0 and x%0 give NaN). */
function fold(op: string, l: number, r: number): number {
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return r === 0 ? NaN : l / r;
    case '%':
      return r === 0 ? NaN : l % r;
    case '^':
      return goPow(l, r);
    case '==':
      return l === r ? 1 : 0;
    case '!=':
      return l !== r ? 1 : 0;
    case '>':
      return l > r ? 1 : 0;
    case '>=':
      return l >= r ? 1 : 0;
    case '<':
      return l < r ? 1 : 0;
    default:
      return l <= r ? 1 : 0;
  }
}

class Parser implements TokenCursor {
  private readonly lx: Lexer;
  private readonly toks: Token[];
  private i = 0;

  constructor(readonly src: string) {
    this.lx = new Lexer(src);
    this.toks = this.lx.tokens;
  }

  peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }

  next(): Token {
    return this.toks[Math.min(this.i++, this.toks.length - 1)]!;
  }

  pos(t: Token): Pos {
    return this.lx.pos(t.offset);
  }

  isOp(t: Token, op: string): boolean {
    return t.kind === 'op' && t.value === op;
  }

  /** Keywords are case-insensitive in Loki. */
  isWord(t: Token, word: string): boolean {
    return t.kind === 'ident' && t.value.toLowerCase() === word;
  }

  fail(message: string, t: Token, unsupported = false): never {
    throw new LogQLError(message, this.pos(t), unsupported);
  }

  unexpected(t: Token, expected: string): never {
    const e = new LogQLError(`syntax error: unexpected ${describe(t)}, expected ${expected}`, this.pos(t), false);
    SYNTAX_ERRORS.add(e);
    throw e;
  }

  unsupported(what: string, t: Token): never {
    this.fail(`${what} is not supported`, t, true);
  }

  private expectOp(op: string, expected = `"${op}"`): Token {
    const t = this.peek();
    if (!this.isOp(t, op)) this.unexpected(t, expected);
    return this.next();
  }

  parseTop(): Expr {
    if (this.src.length >= MAX_INPUT) {
      throw new LogQLError(`input size too long (${this.src.length} > ${MAX_INPUT})`, this.lx.pos(0), false);
    }
    const first = this.peek();
    if (first.kind === 'eof') this.unexpected(first, 'an expression');
    const n = this.parseBinary(0);
    const t = this.peek();
    if (t.kind !== 'eof') this.unexpected(t, 'an operator or end of input');
    if (n.k === 'log') {
      throw new LogQLError('only metric queries can be rule expressions (e.g. count_over_time({...}[5m])), not log queries', n.pos, false);
    }
    return n.e;
  }

  /** Nesting of parseBinary calls: bounded so hostile input gets a LogQLError, not a stack overflow. */
  private depth = 0;

  private parseBinary(minPrec: number): Node {
    if (++this.depth > MAX_NESTING) this.fail(`expression nested more than ${MAX_NESTING} levels deep`, this.peek());
    try {
      return this.parseBinaryAt(minPrec);
    } finally {
      this.depth--;
    }
  }

  private parseBinaryAt(minPrec: number): Node {
    let lhs = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const key = t.kind === 'op' ? t.value : t.kind === 'ident' ? t.value.toLowerCase() : '';
      const info = Object.hasOwn(BIN_OPS, key) ? BIN_OPS[key] : undefined;
      if (info === undefined || info.prec < minPrec) return lhs;
      this.next();
      const { bool, matching } = this.parseBinOpModifier();
      const rhs = this.parseBinary(info.right ? info.prec : info.prec + 1);
      lhs = { k: 'expr', e: this.combine(info.op, bool, matching, lhs, rhs, t) };
    }
  }

  private parseUnary(): Node {
    const t = this.peek();
    if (this.isOp(t, '-') || this.isOp(t, '+')) {
      const n = this.peek(1);
      // LogQL only knows signed number literals, not unary operators on expressions.
      if (n.kind !== 'number') this.unexpected(n, 'a number after the sign');
      this.next();
      this.next();
      const lit: NumberLiteral = { type: 'number', value: t.value === '-' ? -n.num : n.num, pos: this.pos(t) };
      return { k: 'expr', e: lit };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Node {
    const t = this.peek();
    if (t.kind === 'number') {
      this.next();
      return { k: 'expr', e: { type: 'number', value: t.num, pos: this.pos(t) } };
    }
    if (this.isOp(t, '(')) {
      this.next();
      const inner = this.parseBinary(0);
      this.expectOp(')', '")"');
      if (inner.k === 'log' && this.peek().kind === 'range') this.fail('a log range is only valid inside a range aggregation such as count_over_time', this.peek());
      return inner;
    }
    if (this.isOp(t, '{')) {
      const lr = this.parseLogRangeInner();
      return { k: 'log', sel: lr.sel, rangeMs: lr.range?.num, pos: lr.sel.pos };
    }
    if (t.kind === 'ident') {
      const name = t.value.toLowerCase();
      const after = this.peek(1);
      const callLike = this.isOp(after, '(') || this.isWord(after, 'by') || this.isWord(after, 'without');
      if (RANGE_FNS.has(name as RangeFn) && this.isOp(after, '(')) return { k: 'expr', e: this.parseRangeAgg(name as RangeFn) };
      if (VECTOR_OPS.has(name as VectorAggOp) && callLike) return { k: 'expr', e: this.parseVectorAgg(name as VectorAggOp) };
      if (name === 'vector' && this.isOp(after, '(')) return { k: 'expr', e: this.parseVectorLiteral() };
      if (name === 'label_replace' && this.isOp(after, '(')) return { k: 'expr', e: this.parseLabelReplace() };
      if (UNSUPPORTED_VECTOR_OPS.has(name) && callLike) this.unsupported(`vector aggregation "${name}"`, t);
    }
    return this.unexpected(t, 'a number, "(", a log selector or an aggregation');
  }

  private parseRangeAgg(fn: RangeFn): Expr {
    const fnTok = this.next();
    this.expectOp('(');
    let param: number | undefined;
    if (fn === 'quantile_over_time') {
      const pt = this.peek();
      let sign = 1;
      if ((this.isOp(pt, '-') || this.isOp(pt, '+')) && this.peek(1).kind === 'number') {
        sign = pt.value === '-' ? -1 : 1;
        this.next();
      }
      const p = this.next();
      // A plain error (not the lezer-oracle path): Loki refuses quantile_over_time without φ.
      if (p.kind !== 'number') this.fail(`syntax error: unexpected ${p.kind === 'eof' ? 'end of input' : JSON.stringify(p.text)}, expected the quantile (a number) as the first parameter of quantile_over_time`, p);
      param = sign * p.num;
      this.expectOp(',', '","');
    } else if (this.peek().kind === 'number' && this.isOp(this.peek(1), ',')) {
      this.fail(`${fn} takes no parameter`, this.peek());
    }
    this.lastOffsetMs = undefined;
    const lr = this.parseLogRange();
    const offsetMs = this.lastOffsetMs;
    this.expectOp(')', '")"');
    const g = this.peek();
    const grouping = this.parseGroupingOpt();
    if (grouping !== undefined && !GROUPABLE.has(fn)) this.fail(`grouping not allowed for ${fn} aggregation`, g);
    if (lr.unwrap !== undefined && NO_UNWRAP.has(fn)) this.fail(`invalid aggregation ${fn} with unwrap`, fnTok);
    if (lr.unwrap === undefined && NEEDS_UNWRAP.has(fn)) this.fail(`invalid aggregation ${fn} without unwrap`, fnTok);
    return { type: 'range', fn, selector: lr.sel, rangeMs: lr.rangeMs, param, unwrap: lr.unwrap, grouping, ...(offsetMs ? { offsetMs } : {}), pos: this.pos(fnTok) };
  }

  /** A log range: `{..} pipeline [5m]`, `{..} [5m] pipeline`, `({..} pipeline)[5m]`, `({..} pipeline [5m])`. */
  private parseLogRange(): { sel: LogSelector; rangeMs: number; unwrap: Unwrap | undefined } {
    const lr = this.parseLogRangeInner();
    if (lr.range === undefined) this.unexpected(this.peek(), 'a range like [5m]');
    // Loki takes [0s] (an always-empty window); nothing sensible to run here.
    if (lr.range.num <= 0) this.unsupported('a zero range', lr.range);
    return { sel: lr.sel, rangeMs: lr.range.num, unwrap: lr.unwrap };
  }

  private parseLogRangeInner(): LogRange {
    if (this.isOp(this.peek(), '(')) {
      this.next();
      const inner = this.parseLogRangeInner();
      this.expectOp(')', '")"');
      let range = inner.range;
      let unwrap = inner.unwrap;
      if (this.peek().kind === 'range') {
        if (range !== undefined) this.unexpected(this.peek(), 'an operator or ")"');
        range = this.next();
        this.checkOffset();
        // `(selector) [5m] | unwrap x` (syntax.y logRangeExpr with unwrapExpr after RANGE).
        if (unwrap === undefined && inner.sel.stages.length === 0 && inner.sel.filters.length === 0) {
          const after = parsePipeline(this);
          if (after.stages.length > 0) this.unexpected(this.peek(), 'unwrap or ")"');
          unwrap = after.unwrap;
        }
      }
      return { sel: inner.sel, range, unwrap };
    }
    const sel = this.parseSelector();
    let p = parsePipeline(this);
    let range: Token | undefined;
    if (this.peek().kind === 'range') {
      range = this.next();
      this.checkOffset();
      const after = parsePipeline(this);
      if (after.stages.length > 0 || after.unwrap !== undefined) {
        if (p.stages.length > 0 && after.stages.length > 0) this.fail('a pipeline may come before or after the range, not both', this.peek());
        if (p.unwrap !== undefined) this.unexpected(this.peek(), 'an operator or ")"');
        p = { stages: [...p.stages, ...after.stages], unwrap: after.unwrap };
      }
    }
    splitPipeline(sel, p.stages);
    return { sel, range, unwrap: p.unwrap };
  }

  /** Set by checkOffset for the log range being parsed (Loki: `[5m] offset 1h`). */
  private lastOffsetMs: number | undefined;

  private checkOffset(): void {
    this.lastOffsetMs = this.parseOffsetOpt();
  }

  private parseSelector(): LogSelector {
    const open = this.expectOp('{', '"{"');
    const matchers: LabelMatcher[] = [];
    if (!this.isOp(this.peek(), '}')) {
      for (;;) {
        matchers.push(this.parseMatcher());
        const t = this.peek();
        if (this.isOp(t, ',')) {
          this.next();
          continue;
        }
        if (this.isOp(t, '}')) break;
        this.unexpected(t, '"," or "}"');
      }
    }
    this.next();
    const pos = this.pos(open);
    if (!matchers.some((m) => !this.matchesEmpty(m))) throw new LogQLError(EMPTY_MATCHER_ERROR, pos, false);
    return { matchers, filters: [], stages: [], pos };
  }

  private matchesEmpty(m: LabelMatcher): boolean {
    switch (m.op) {
      case '=':
        return m.value === '';
      case '!=':
        return m.value !== '';
      case '=~':
        return compileLabelRegex(m.value)('');
      case '!~':
        return !compileLabelRegex(m.value)('');
    }
  }

  private parseMatcher(): LabelMatcher {
    const name = this.peek();
    if (name.kind !== 'ident') this.unexpected(name, 'a label name');
    this.next();
    const opTok = this.peek();
    if (opTok.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(opTok.value)) this.unexpected(opTok, 'one of "=", "!=", "=~", "!~"');
    this.next();
    const v = this.peek();
    if (v.kind !== 'string') this.unexpected(v, 'a string');
    this.next();
    const op = opTok.value as MatchOp;
    if (op === '=~' || op === '!~') this.checkRegex(v, 'label matcher');
    return { name: name.value, op, value: v.value, pos: this.pos(name) };
  }

  checkRegex(t: Token, where: string): void {
    try {
      checkRe2(t.value);
    } catch (e) {
      if (e instanceof Re2SyntaxError) this.fail(`invalid regex in ${where}: ${e.message}`, t);
      throw e;
    }
  }

  private parseVectorAgg(op: VectorAggOp): Expr {
    const opTok = this.next();
    let grouping: Grouping | undefined = this.parseGroupingOpt();
    this.expectOp('(');
    const param = this.parseAggParam(op);
    const innerStart = this.peek();
    const inner = this.parseBinary(0);
    if (inner.k === 'log') this.fail(`${op} needs a metric expression (e.g. count_over_time(...)), not a log query`, innerStart);
    this.expectOp(')', '")"');
    const afterTok = this.peek();
    const after = this.parseGroupingOpt();
    if (after !== undefined) {
      if (grouping !== undefined) this.unexpected(afterTok, 'end of aggregation (grouping given twice)');
      grouping = after;
    }
    if ((op === 'sort' || op === 'sort_desc') && grouping !== undefined && grouping.labels.length > 0) {
      // Loki pkg/logql/syntax/parser.go validateSortGrouping.
      this.fail('sort and sort_desc doesn\'t allow grouping by ', opTok);
    }
    return { type: 'vector_agg', op, ...(param !== undefined ? { param } : {}), grouping, inner: inner.e, pos: this.pos(opTok) };
  }

  private parseGroupingOpt(): Grouping | undefined {
    const t = this.peek();
    const without = this.isWord(t, 'without');
    if (!without && !this.isWord(t, 'by')) return undefined;
    this.next();
    this.expectOp('(');
    const labels: string[] = [];
    if (!this.isOp(this.peek(), ')')) {
      for (;;) {
        const l = this.peek();
        if (l.kind !== 'ident') this.unexpected(l, 'a label name');
        this.next();
        labels.push(l.value);
        if (this.isOp(this.peek(), ',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    this.expectOp(')', '"," or ")"');
    return { without, labels };
  }
  // ---- Vector algebra (issue #14): binary-operation modifiers, vector-vector
  // operations, offset, aggregation parameters, vector(), label_replace().
  // Grammar: Loki pkg/logql/syntax/syntax.y (binOpModifier, offsetExpr,
  // vectorAggregationExpr, vectorExpr, labelReplaceExpr); checks: ast.go
  // (mustNewBinOpExpr, mustNewVectorAggregationExpr, mustNewLabelReplaceExpr).

  /** `[bool] [on|ignoring (labels) [group_left|group_right [(labels)]]]` after a binary operator. */
  private parseBinOpModifier(): { bool: boolean; matching: VectorMatching } {
    let bool = false;
    if (this.isWord(this.peek(), 'bool')) {
      this.next();
      bool = true;
    }
    const matching: VectorMatching = { card: 'one-to-one', on: false, labels: [], include: [] };
    const t = this.peek();
    if (!this.isWord(t, 'on') && !this.isWord(t, 'ignoring')) return { bool, matching };
    this.next();
    matching.on = t.value.toLowerCase() === 'on';
    matching.labels = this.parseLabelList();
    const g = this.peek();
    if (this.isWord(g, 'group_left') || this.isWord(g, 'group_right')) {
      this.next();
      matching.card = g.value.toLowerCase() === 'group_left' ? 'many-to-one' : 'one-to-many';
      if (this.isOp(this.peek(), '(')) matching.include = this.parseLabelList();
    }
    return { bool, matching };
  }

  /** `(a, b)` or `()`. */
  private parseLabelList(): string[] {
    this.expectOp('(');
    const labels: string[] = [];
    if (!this.isOp(this.peek(), ')')) {
      for (;;) {
        const l = this.peek();
        // Not an oracle-able syntax error: Grafana's grammar takes a trailing comma Loki's refuses.
        if (l.kind !== 'ident') this.fail(`syntax error: unexpected ${describe(l)}, expected a label name`, l);
        this.next();
        labels.push(l.value);
        if (!this.isOp(this.peek(), ',')) break;
        this.next();
      }
    }
    this.expectOp(')', '"," or ")"');
    return labels;
  }

  private combine(op: ArithOp | CompareOp | SetOp, bool: boolean, matching: VectorMatching, lhs: Node, rhs: Node, opTok: Token): Expr {
    if (lhs.k === 'log' || rhs.k === 'log') {
      this.fail(`unexpected log query as ${lhs.k === 'log' ? 'left' : 'right'} operand of "${op}": use a range aggregation such as count_over_time`, opTok);
    }
    const l = lhs.e;
    const r = rhs.e;
    const pos = this.pos(opTok);
    const setOp = op === 'and' || op === 'or' || op === 'unless';
    if (setOp) {
      const lit = l.type === 'number' ? ['left', l.value] : r.type === 'number' ? ['right', r.value] : undefined;
      if (lit !== undefined) this.fail(`unexpected literal for ${lit[0]} leg of logical/set binary operation (${op}): ${goFloatF(lit[1] as number)}`, opTok);
    }
    // Loki accepts `bool` on any operator; it only changes comparisons (MergeBinOp's filter flag).
    const cmpBool = bool && COMPARE.has(op);
    if (l.type === 'number' && r.type === 'number') return { type: 'number', value: fold(op, l.value, r.value), pos: l.pos };
    // A literal leg matches every series of the other leg; vector matching modifiers are ignored (Loki's LiteralStepEvaluator).
    if (l.type === 'number' || r.type === 'number') return { type: 'binary', op, bool: cmpBool, lhs: l, rhs: r, pos } satisfies BinaryExpr;
    return { type: 'binary', op, bool: cmpBool, lhs: l, rhs: r, matching, pos } satisfies BinaryExpr;
  }

  /** `offset 1h` after a log range; undefined when absent. */
  private parseOffsetOpt(): number | undefined {
    const t = this.peek();
    if (!this.isWord(t, 'offset')) return undefined;
    this.next();
    let negative = false;
    if (this.isOp(this.peek(), '-')) {
      this.next();
      negative = true;
    }
    const d = this.peek();
    if (d.kind !== 'duration') this.unexpected(d, 'a duration like 1h');
    this.next();
    // Loki takes a negative offset (the range reaches into the future); live, that future has not arrived yet.
    if (negative && d.num !== 0) this.unsupported('a negative offset', t);
    if (!Number.isInteger(d.num)) this.unsupported('an offset finer than a millisecond', d);
    return d.num;
  }

  /** The `k, ` of topk/bottomk; any other operation takes none. */
  private parseAggParam(op: VectorAggOp): number | undefined {
    const t = this.peek();
    const hasParam = t.kind === 'number' && this.isOp(this.peek(1), ',');
    if (op !== 'topk' && op !== 'bottomk') {
      if (hasParam) this.fail(`unsupported parameter for operation ${op}(${t.text},`, t);
      return undefined;
    }
    if (!hasParam) this.fail(`parameter required for operation ${op}`, t);
    this.next();
    this.next();
    // strconv.Atoi: an integer, no fraction or exponent.
    if (!/^[0-9]+$/.test(t.text)) this.fail(`invalid parameter ${op}(${t.text},`, t);
    const k = Number(t.text);
    if (k <= 0) this.fail(`invalid parameter (must be greater than 0) ${op}(${t.text}`, t);
    return k;
  }

  private parseVectorLiteral(): Expr {
    const fnTok = this.next();
    this.expectOp('(');
    const n = this.peek();
    if (n.kind !== 'number') this.unexpected(n, 'a number');
    this.next();
    this.expectOp(')', '")"');
    return { type: 'vector', value: n.num, pos: this.pos(fnTok) };
  }

  private parseLabelReplace(): Expr {
    const fnTok = this.next();
    this.expectOp('(');
    const innerStart = this.peek();
    const inner = this.parseBinary(0);
    if (inner.k === 'log') this.fail('label_replace needs a metric expression (e.g. count_over_time(...)), not a log query', innerStart);
    const args: string[] = [];
    for (let i = 0; i < 4; i++) {
      this.expectOp(',', '","');
      const s = this.peek();
      if (s.kind !== 'string') this.unexpected(s, 'a string');
      this.next();
      args.push(s.value);
      if (i === 3) {
        try {
          checkRe2(`^(?:${s.value})$`);
        } catch (e) {
          if (e instanceof Re2SyntaxError) this.fail(`invalid regex in label_replace: ${e.message}`, s);
          throw e;
        }
      }
    }
    this.expectOp(')', '")"');
    return { type: 'label_replace', inner: inner.e, dst: args[0]!, replacement: args[1]!, src: args[2]!, regex: args[3]!, pos: this.pos(fnTok) };
  }
}

/** Go's fmt %f: six decimals. */
function goFloatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return v.toFixed(6);
}

type LezerNode = ReturnType<ReturnType<typeof LezerParser.parse>['resolveInner']>;

let lezer: typeof LezerParser | undefined;
/** Grafana's grammar, loaded at the first parse error only (its CommonJS build, synchronously): most starts never need it. */
function lezerParser(): typeof LezerParser {
  lezer ??= (createRequire(import.meta.url)('@grafana/lezer-logql') as { parser: typeof LezerParser }).parser;
  return lezer;
}

/** Lezer node names worth naming in an "unsupported" message, most specific first. */
const CONSTRUCTS: Record<string, string> = {
  VectorExpr: 'vector()',
  LabelReplaceExpr: 'label_replace()',
  OffsetExpr: 'offset modifier',
  UnwrapExpr: 'unwrap',
  LabelParser: 'parser stage',
  JsonExpressionParser: 'json parser stage',
  LogfmtParser: 'logfmt parser stage',
  LogfmtExpressionParser: 'logfmt parser stage',
  LineFormatExpr: 'line_format stage',
  LabelFormatExpr: 'label_format stage',
  DecolorizeExpr: 'decolorize stage',
  DropLabelsExpr: 'drop stage',
  KeepLabelsExpr: 'keep stage',
  LabelFilter: 'label filter',
  VectorAggregationExpr: 'vector aggregation',
  RangeAggregationExpr: 'range aggregation',
  BinOpExpr: 'binary operation',
};

/** Valid LogQL per Grafana's grammar: name the construct around `offset`. */
function lezerUnsupported(src: string, err: LogQLError): LogQLError | undefined {
  let tree: ReturnType<typeof LezerParser.parse>;
  try {
    tree = lezerParser().parse(src);
  } catch {
    // lezer recurses per nesting level; hostile input may overflow its stack. Keep our error.
    return undefined;
  }
  let hasError = false;
  tree.iterate({
    enter(n) {
      if (n.type.isError) hasError = true;
      return !hasError;
    },
  });
  if (hasError) return undefined;
  let node: LezerNode | null = tree.resolveInner(Math.min(err.pos.offset, src.length), 1);
  while (node !== null && !Object.hasOwn(CONSTRUCTS, node.name)) node = node.parent;
  let what = 'this construct';
  if (node !== null) {
    const text = src.slice(node.from, node.to).replace(/\s+/g, ' ');
    const op = node.getChild('VectorOp') ?? node.getChild('RangeOp');
    const name = op !== null ? `${CONSTRUCTS[node.name]} "${src.slice(op.from, op.to)}"` : CONSTRUCTS[node.name]!;
    what = `${name} (\`${text.length > 60 ? `${text.slice(0, 57)}...` : text}\`)`;
  }
  return new LogQLError(`${what} is valid LogQL but not supported by this engine`, err.pos, true);
}

/**
 * Parses a LogQL metric expression into the AST. Throws LogQLError: a syntax
 * or validation error, or (`unsupported: true`) valid LogQL outside the
 * subset, with a message naming the construct.
 */
/** Deepest nesting of parentheses and operators accepted (real rules use a handful). */
const MAX_NESTING = 256;

export function parseExpr(text: string): Expr {
  try {
    const e = new Parser(text).parseTop();
    validatePipelines(e);
    return e;
  } catch (e) {
    if (e instanceof LogQLError && SYNTAX_ERRORS.has(e)) throw lezerUnsupported(text, e) ?? e;
    throw e;
  }
}

/** Builds every pipeline once so what only fails at construction (templates, patterns, regexes) fails at load. */
function validatePipelines(e: Expr): void {
  if (e.type === 'range') compileStages(e.selector.stages);
  else subExpressions(e).forEach(validatePipelines);
}
