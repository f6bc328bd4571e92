/**
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
import { parser as lezerParser } from '@grafana/lezer-logql';
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
  type MatchOp,
  type NumberLiteral,
  type Pos,
  type RangeFn,
  type VectorAggOp,
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
const VECTOR_OPS = new Set<VectorAggOp>(['sum', 'count', 'min', 'max', 'avg']);
const UNSUPPORTED_VECTOR_OPS = new Set(['stddev', 'stdvar', 'topk', 'bottomk']);

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
      if (info.op === 'and' || info.op === 'or' || info.op === 'unless') {
        this.unsupported(`set operator "${info.op}" (between two vectors)`, t);
      }
      let bool = false;
      if (this.isWord(this.peek(), 'bool')) {
        this.next();
        bool = true;
      }
      const mod = this.peek();
      if (['on', 'ignoring', 'group_left', 'group_right'].some((w) => this.isWord(mod, w))) {
        this.unsupported(`vector matching "${mod.value.toLowerCase()}"`, mod);
      }
      const rhs = this.parseBinary(info.right ? info.prec : info.prec + 1);
      lhs = { k: 'expr', e: this.combine(info.op as ArithOp | CompareOp, bool, lhs, rhs, t) };
    }
  }

  private combine(op: ArithOp | CompareOp, bool: boolean, lhs: Node, rhs: Node, opTok: Token): Expr {
    if (lhs.k === 'log' || rhs.k === 'log') {
      this.fail(`unexpected log query as ${lhs.k === 'log' ? 'left' : 'right'} operand of "${op}": use a range aggregation such as count_over_time`, opTok);
    }
    if (bool && !COMPARE.has(op)) this.fail('bool modifier can only be used on comparison operators', opTok);
    const l = lhs.e;
    const r = rhs.e;
    const pos = this.pos(opTok);
    if (l.type === 'number' && r.type === 'number') return { type: 'number', value: fold(op, l.value, r.value), pos: l.pos };
    if (l.type !== 'number' && r.type !== 'number') {
      this.unsupported(`binary operation "${op}" between two vector expressions`, opTok);
    }
    const b: BinaryExpr = { type: 'binary', op, bool, lhs: l, rhs: r, pos };
    return b;
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
    const lr = this.parseLogRange();
    this.expectOp(')', '")"');
    const g = this.peek();
    const grouping = this.parseGroupingOpt();
    if (grouping !== undefined && !GROUPABLE.has(fn)) this.fail(`grouping not allowed for ${fn} aggregation`, g);
    if (lr.unwrap !== undefined && NO_UNWRAP.has(fn)) this.fail(`invalid aggregation ${fn} with unwrap`, fnTok);
    if (lr.unwrap === undefined && NEEDS_UNWRAP.has(fn)) this.fail(`invalid aggregation ${fn} without unwrap`, fnTok);
    return { type: 'range', fn, selector: lr.sel, rangeMs: lr.rangeMs, param, unwrap: lr.unwrap, grouping, pos: this.pos(fnTok) };
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

  private checkOffset(): void {
    const t = this.peek();
    if (this.isWord(t, 'offset')) this.unsupported('offset modifier', t);
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
    if (this.peek().kind === 'number' && this.isOp(this.peek(1), ',')) {
      this.fail(`unsupported parameter for operation ${op}`, this.peek());
    }
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
    return { type: 'vector_agg', op, grouping, inner: inner.e, pos: this.pos(opTok) };
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
}

type LezerNode = ReturnType<ReturnType<typeof lezerParser.parse>['resolveInner']>;

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
  let tree: ReturnType<typeof lezerParser.parse>;
  try {
    tree = lezerParser.parse(src);
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
  switch (e.type) {
    case 'range':
      compileStages(e.selector.stages);
      return;
    case 'vector_agg':
      validatePipelines(e.inner);
      return;
    case 'binary':
      validatePipelines(e.lhs);
      validatePipelines(e.rhs);
      return;
    default:
      return;
  }
}
