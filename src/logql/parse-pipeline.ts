/**
 * The pipeline part of a log query (`| json | status >= 500 | unwrap x`),
 * following Loki's grammar (pkg/logql/syntax/syntax.y: pipelineStage,
 * labelFilter, unwrapExpr) on the shared token cursor of parse.ts.
 *
 * Label filter precedence is yacc's resolution of syntax.y: `or` binds
 * loosest, `and` tighter (both left-associative), and `,` or plain
 * whitespace (no precedence in the grammar, so the parser shifts) take
 * everything to their right: `a , b or c` is `a and (b or c)`;
 * `a or b , c or d` is `a or (b and (c or d))` (parser_test.go has
 * `foo="bar" buzz!="blip", blop=~"boop" or fuzz==5` → and(foo, and(buzz, or(blop, fuzz)))).
 */
import {
  type ExtractionExpr,
  type LabelFilterExpr,
  type LabelFormatItem,
  type LineFilter,
  type LineFilterOp,
  type MatchOp,
  type NamedMatcher,
  type NumCmp,
  type PipelineStage,
  type Pos,
  type Unwrap,
  type UnwrapConv,
} from './ast.js';
import type { Token } from './lexer.js';
import { IpFilter } from './stages/ip.js';
import { LinePattern, compilePattern } from './stages/pattern.js';
import { regexpCaptureNames } from './stages/regexp.js';
import { isValidLabelName } from './stages/stage.js';

/** What parse.ts's Parser offers the pipeline parser. */
export interface TokenCursor {
  peek(k?: number): Token;
  next(): Token;
  pos(t: Token): Pos;
  isOp(t: Token, op: string): boolean;
  isWord(t: Token, word: string): boolean;
  fail(message: string, t: Token, unsupported?: boolean): never;
  unexpected(t: Token, expected: string): never;
  unsupported(what: string, t: Token): never;
  checkRegex(t: Token, where: string): void;
}

const LINE_FILTER_OPS = new Set(['|=', '!=', '|~', '!~']);
const STAGE_KEYWORDS = new Set([
  'json', 'logfmt', 'regexp', 'pattern', 'unpack', 'line_format', 'label_format', 'decolorize', 'drop', 'keep', 'unwrap',
]);
const CONV = new Set(['bytes', 'duration', 'duration_seconds']);
const CMP_OPS = new Set(['=', '!=', '=~', '!~', '==', '>', '>=', '<', '<=']);

export interface ParsedPipeline {
  stages: PipelineStage[];
  unwrap: Unwrap | undefined;
}

export function parsePipeline(c: TokenCursor): ParsedPipeline {
  const stages: PipelineStage[] = [];
  let unwrap: Unwrap | undefined;
  for (;;) {
    const t = c.peek();
    if (t.kind !== 'op') break;
    if (LINE_FILTER_OPS.has(t.value)) {
      if (unwrap !== undefined) c.unexpected(t, 'a label filter, a range or ")" after unwrap');
      const s = parseLineFilter(c);
      if (s === undefined) break;
      stages.push(s);
      continue;
    }
    if (t.value === '|>' || t.value === '!>') {
      if (unwrap !== undefined) c.unexpected(t, 'a label filter, a range or ")" after unwrap');
      stages.push(parsePatternLineFilter(c));
      continue;
    }
    if (t.value !== '|') break;
    const n = c.peek(1);
    const word = n.kind === 'ident' ? n.value.toLowerCase() : '';
    if (unwrap !== undefined) {
      if (STAGE_KEYWORDS.has(word)) c.unexpected(n, 'a label filter after unwrap');
      c.next();
      unwrap.postFilters.push(parseLabelFilter(c));
      continue;
    }
    if (word === 'unwrap') {
      c.next();
      c.next();
      unwrap = parseUnwrap(c, n);
      continue;
    }
    c.next();
    stages.push(parseStage(c));
  }
  return { stages, unwrap };
}

function parseLineFilter(c: TokenCursor): PipelineStage | undefined {
  const t = c.peek();
  const v = c.peek(1);
  if (c.isWord(v, 'ip') && c.isOp(c.peek(2), '(')) {
    if (t.value !== '|=' && t.value !== '!=') c.fail('ip: invalid operation', v);
    c.next();
    c.next();
    const pattern = parseIpArg(c);
    if (c.isWord(c.peek(), 'or')) c.unsupported('"or" after an ip() line filter', c.peek());
    return { k: 'ip_line_filter', negate: t.value === '!=', pattern, pos: c.pos(t) };
  }
  if (v.kind !== 'string') {
    if (t.value === '|=' || t.value === '|~') c.unexpected(v, 'a string');
    return undefined; // `!=` that isn't a filter: let the caller report it
  }
  c.next();
  c.next();
  const values = [v.value];
  const strings = [v];
  while (c.isWord(c.peek(), 'or')) {
    const nv = c.peek(1);
    if (c.isWord(nv, 'ip')) c.unsupported('ip() inside an "or" line filter', nv);
    if (nv.kind !== 'string') break;
    c.next();
    c.next();
    values.push(nv.value);
    strings.push(nv);
  }
  const op = t.value as LineFilterOp;
  if (op === '|~' || op === '!~') for (const s of strings) c.checkRegex(s, 'line filter');
  const filter: LineFilter = { op, values, pos: c.pos(t) };
  return { k: 'line_filter', filter };
}

function parsePatternLineFilter(c: TokenCursor): PipelineStage {
  const t = c.next();
  const patterns: string[] = [];
  for (;;) {
    const s = expectString(c);
    try {
      new LinePattern(s.value);
    } catch (e) {
      c.fail((e as Error).message, s);
    }
    patterns.push(s.value);
    if (!c.isWord(c.peek(), 'or') || c.peek(1).kind !== 'string') break;
    c.next();
  }
  return { k: 'pattern_line_filter', negate: t.value === '!>', patterns, pos: c.pos(t) };
}

function parseIpArg(c: TokenCursor): string {
  const open = c.next();
  if (!c.isOp(open, '(')) c.unexpected(open, '"("');
  const s = c.next();
  if (s.kind !== 'string') c.unexpected(s, 'a string');
  const close = c.next();
  if (!c.isOp(close, ')')) c.unexpected(close, '")"');
  try {
    new IpFilter(s.value);
  } catch (e) {
    c.fail((e as Error).message, s);
  }
  return s.value;
}

function expectString(c: TokenCursor): Token {
  const s = c.next();
  if (s.kind !== 'string') c.unexpected(s, 'a string');
  return s;
}

function parseStage(c: TokenCursor): PipelineStage {
  const t = c.peek();
  const pos = c.pos(t);
  const word = t.kind === 'ident' ? t.value.toLowerCase() : '';
  switch (word) {
    case 'json': {
      c.next();
      return { k: 'json', exprs: parseExtractionList(c), pos };
    }
    case 'logfmt': {
      c.next();
      let strict = false;
      let keepEmpty = false;
      while (c.peek().kind === 'flag') {
        const f = c.next();
        if (f.value === '--strict') strict = true;
        else keepEmpty = true;
      }
      const exprs = parseExtractionList(c);
      return { k: 'logfmt', strict, keepEmpty, exprs, pos };
    }
    case 'regexp': {
      c.next();
      const s = expectString(c);
      c.checkRegex(s, 'regexp stage');
      try {
        regexpCaptureNames(s.value);
      } catch (e) {
        c.fail((e as Error).message, s);
      }
      return { k: 'regexp', pattern: s.value, pos };
    }
    case 'pattern': {
      c.next();
      const s = expectString(c);
      try {
        compilePattern(s.value);
      } catch (e) {
        c.fail((e as Error).message, s);
      }
      return { k: 'pattern', pattern: s.value, pos };
    }
    case 'unpack':
      c.next();
      return { k: 'unpack', pos };
    case 'decolorize':
      c.next();
      return { k: 'decolorize', pos };
    case 'line_format': {
      c.next();
      return { k: 'line_format', template: expectString(c).value, pos };
    }
    case 'label_format': {
      c.next();
      const items: LabelFormatItem[] = [];
      for (;;) {
        const dst = c.next();
        if (dst.kind !== 'ident') c.unexpected(dst, 'a label name');
        const eq = c.next();
        if (!c.isOp(eq, '=')) c.unexpected(eq, '"="');
        const src = c.next();
        if (src.kind === 'ident') items.push({ dst: dst.value, rename: src.value, template: undefined });
        else if (src.kind === 'string') items.push({ dst: dst.value, rename: undefined, template: src.value });
        else c.unexpected(src, 'a label name or a template string');
        if (!c.isOp(c.peek(), ',')) break;
        c.next();
      }
      // Loki (LabelsFormatter): a label may only be formatted once per stage.
      const seen = new Set<string>();
      for (const it of items) {
        if (seen.has(it.dst)) c.fail(`multiple label name '${it.dst}' not allowed in a single format operation`, t);
        seen.add(it.dst);
      }
      return { k: 'label_format', items, pos };
    }
    case 'drop':
    case 'keep': {
      c.next();
      const items: NamedMatcher[] = [];
      for (;;) {
        const name = c.next();
        if (name.kind !== 'ident') c.unexpected(name, 'a label name');
        const op = c.peek();
        if (op.kind === 'op' && ['=', '!=', '=~', '!~'].includes(op.value) && c.peek(1).kind === 'string') {
          c.next();
          const v = c.next();
          if (op.value === '=~' || op.value === '!~') c.checkRegex(v, `${word} matcher`);
          items.push({ name: name.value, matcher: { name: name.value, op: op.value as MatchOp, value: v.value, pos: c.pos(name) } });
        } else items.push({ name: name.value, matcher: undefined });
        if (!c.isOp(c.peek(), ',')) break;
        c.next();
      }
      return { k: word, items, pos };
    }
    default:
      break;
  }
  if (t.kind === 'ident' || c.isOp(t, '(')) return { k: 'label_filter', filter: parseLabelFilter(c), pos };
  return c.unexpected(t, 'a pipeline stage after "|"');
}

/** `a="x.y", b, c="z"` after json/logfmt, if present. */
function parseExtractionList(c: TokenCursor): ExtractionExpr[] | undefined {
  if (c.peek().kind !== 'ident') return undefined;
  const out: ExtractionExpr[] = [];
  for (;;) {
    const id = c.next();
    if (id.kind !== 'ident') c.unexpected(id, 'a label name');
    if (c.isOp(c.peek(), '=')) {
      c.next();
      const s = expectString(c);
      out.push({ identifier: id.value, expression: s.value });
    } else out.push({ identifier: id.value, expression: id.value });
    if (!isValidLabelName(id.value)) c.fail(`invalid extracted label name '${id.value}'`, id);
    if (!c.isOp(c.peek(), ',')) break;
    c.next();
  }
  return out;
}

function parseUnwrap(c: TokenCursor, kw: Token): Unwrap {
  const t = c.next();
  if (t.kind !== 'ident') c.unexpected(t, 'a label name');
  let conv: UnwrapConv = '';
  let label = t.value;
  if (CONV.has(t.value.toLowerCase()) && c.isOp(c.peek(), '(')) {
    conv = t.value.toLowerCase() as UnwrapConv;
    c.next();
    const id = c.next();
    if (id.kind !== 'ident') c.unexpected(id, 'a label name');
    label = id.value;
    const close = c.next();
    if (!c.isOp(close, ')')) c.unexpected(close, '")"');
  }
  return { label, conv, postFilters: [], pos: c.pos(kw) };
}

/** Does the cursor start another label filter (juxtaposition = and)? */
function startsFilter(c: TokenCursor): boolean {
  const t = c.peek();
  if (c.isOp(t, '(')) return true;
  if (t.kind !== 'ident' || c.isWord(t, 'and') || c.isWord(t, 'or')) return false;
  const n = c.peek(1);
  return n.kind === 'op' && CMP_OPS.has(n.value);
}

export function parseLabelFilter(c: TokenCursor): LabelFilterExpr {
  let l = parseAnd(c);
  while (c.isWord(c.peek(), 'or')) {
    c.next();
    l = { k: 'or', left: l, right: parseAnd(c) };
  }
  return l;
}

function parseAnd(c: TokenCursor): LabelFilterExpr {
  let l = parseUnit(c);
  while (c.isWord(c.peek(), 'and')) {
    c.next();
    l = { k: 'and', left: l, right: parseUnit(c) };
  }
  return l;
}

function parseUnit(c: TokenCursor): LabelFilterExpr {
  const p = parsePrimary(c);
  if (c.isOp(c.peek(), ',')) {
    c.next();
    return { k: 'and', left: p, right: parseLabelFilter(c) };
  }
  if (startsFilter(c)) return { k: 'and', left: p, right: parseLabelFilter(c) };
  return p;
}

function parsePrimary(c: TokenCursor): LabelFilterExpr {
  const t = c.peek();
  if (c.isOp(t, '(')) {
    c.next();
    const inner = parseLabelFilter(c);
    const close = c.next();
    if (!c.isOp(close, ')')) c.unexpected(close, '")"');
    return inner;
  }
  const name = c.next();
  if (name.kind !== 'ident') c.unexpected(name, 'a label filter');
  const op = c.next();
  if (op.kind !== 'op' || !CMP_OPS.has(op.value)) c.unexpected(op, 'a comparison operator');
  const v = c.peek();
  if ((op.value === '=' || op.value === '!=') && c.isWord(v, 'ip') && c.isOp(c.peek(1), '(')) {
    c.next();
    return { k: 'ip', name: name.value, op: op.value, pattern: parseIpArg(c) };
  }
  if (v.kind === 'string') {
    if (op.value === '=' || op.value === '!=' || op.value === '=~' || op.value === '!~') {
      c.next();
      if (op.value === '=~' || op.value === '!~') c.checkRegex(v, 'label filter');
      return { k: 'string', name: name.value, op: op.value, value: v.value };
    }
    c.unexpected(v, 'a number, duration or bytes value');
  }
  if (op.value === '=~' || op.value === '!~') c.unexpected(v, 'a string');
  const cmp: NumCmp = op.value === '=' ? '==' : (op.value as NumCmp);
  if (v.kind === 'duration') {
    c.next();
    return { k: 'duration', name: name.value, op: cmp, value: Math.round(v.num * 1e6) };
  }
  if (v.kind === 'bytes') {
    c.next();
    return { k: 'bytes', name: name.value, op: cmp, value: v.num };
  }
  let sign = 1;
  if (c.isOp(v, '-') || c.isOp(v, '+')) {
    if (c.peek(1).kind !== 'number') c.unexpected(c.peek(1), 'a number');
    sign = v.value === '-' ? -1 : 1;
    c.next();
  }
  const num = c.next();
  if (num.kind !== 'number') c.unexpected(num, 'a string, number, duration or bytes value');
  return { k: 'number', name: name.value, op: cmp, value: sign * num.num };
}

