/**
 * `| pattern "<ip> - - [<_>] \"<method> <path> <_>\" <status> <_>"`
 * (pkg/logql/log/pattern: ast.go, pattern.go Matches, lexer.rl). A pattern
 * is literals and captures `<name>` (`<_>` captures nothing); two captures
 * may not touch; names must be unique and at least one named capture is
 * required. Matching is greedy-free and left to right: a leading literal
 * must be at the very start; each capture runs to the next occurrence of
 * the literal after it (or the end of the line when that literal is
 * missing, which also ends matching).
 */
import { Category, type LabelsBuilder } from './labels-builder.js';
import { type Stage, isValidLabelName } from './stage.js';

type Node = { lit: string } | { cap: string };

export interface CompiledPattern {
  nodes: Node[];
  names: string[];
}

const CAPTURE = /^<([A-Za-z_][A-Za-z0-9_]*)>/;

function parseNodes(pattern: string): Node[] {
  const nodes: Node[] = [];
  let lit = '';
  for (let i = 0; i < pattern.length; ) {
    const m = pattern[i] === '<' ? CAPTURE.exec(pattern.slice(i)) : null;
    if (m !== null) {
      if (lit !== '') nodes.push({ lit });
      lit = '';
      nodes.push({ cap: m[1]! });
      i += m[0].length;
      continue;
    }
    const cp = pattern.codePointAt(i)!;
    lit += String.fromCodePoint(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  if (lit !== '') nodes.push({ lit });
  return nodes;
}

function checkConsecutive(nodes: readonly Node[]): void {
  for (let i = 0; i + 1 < nodes.length; i++) {
    const a = nodes[i]!;
    const b = nodes[i + 1]!;
    if ('cap' in a && 'cap' in b) throw new Error(`found consecutive capture '<${a.cap}><${b.cap}>': invalid expression`);
  }
}

export function compilePattern(pattern: string): CompiledPattern {
  const nodes = parseNodes(pattern);
  const names = nodes.flatMap((n) => ('cap' in n && n.cap !== '_' ? [n.cap] : []));
  if (names.length === 0) throw new Error('at least one capture is required');
  checkConsecutive(nodes);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`duplicate capture name (${n}): invalid expression`);
    seen.add(n);
    if (!isValidLabelName(n)) throw new Error(`invalid capture label name '${n}'`);
  }
  return { nodes, names };
}

/** pattern.go Matcher.Matches: the named captures' values, in order (fewer when matching stops early). */
export function matchPattern(p: CompiledPattern, line: string): string[] {
  const out: string[] = [];
  if (line === '' || p.nodes.length === 0) return out;
  let expr = p.nodes;
  let rest = line;
  const first = expr[0]!;
  if ('lit' in first) {
    if (rest.indexOf(first.lit) !== 0) return out;
    rest = rest.slice(first.lit.length);
    expr = expr.slice(1);
  }
  if (expr.length === 0) return out;
  while (expr.length !== 0) {
    const cap = (expr[0] as { cap: string }).cap;
    if (expr.length === 1) {
      if (cap !== '_') out.push(rest);
      return out;
    }
    const lit = (expr[1] as { lit: string }).lit;
    expr = expr.slice(2);
    const i = rest.indexOf(lit);
    if (i === -1) {
      if (cap !== '_') out.push(rest);
      return out;
    }
    if (cap !== '_') out.push(rest.slice(0, i));
    rest = rest.slice(i + lit.length);
  }
  return out;
}

export class PatternParser implements Stage {
  private readonly p: CompiledPattern;
  constructor(pattern: string) {
    this.p = compilePattern(pattern);
  }

  process(line: string, lb: LabelsBuilder): string {
    if (lb.hints.noLabels(lb)) return line;
    const values = matchPattern(this.p, line);
    for (let i = 0; i < values.length; i++) {
      const name = lb.parsedName(this.p.names[i]!);
      if (lb.hints.shouldExtract(name) && !lb.extracted(name)) lb.set(Category.Parsed, name, values[i]!);
    }
    return line;
  }
}

/**
 * A pattern line filter (`|> "<_> error <_>"`, pattern.go ParseLineFilter and
 * Matcher.Test): only `<_>` captures; literals must appear in order, each
 * capture covering at least one character, the line ending on a literal
 * exactly when the pattern does. An empty pattern matches only empty lines.
 */
export class LinePattern {
  private readonly nodes: Node[];

  constructor(pattern: string) {
    this.nodes = parseNodes(pattern);
    checkConsecutive(this.nodes);
    for (const n of this.nodes) if ('cap' in n && n.cap !== '_') throw new Error(`named captures are not allowed: found '<${n.cap}>'`);
  }

  test(line: string): boolean {
    return testNodes(this.nodes, line);
  }
}

/** pattern.go Matcher.Test on a compiled (capturing) pattern, for tests and the line filter alike. */
export function testPattern(p: CompiledPattern, line: string): boolean {
  return testNodes(p.nodes, line);
}

function testNodes(e: readonly Node[], line: string): boolean {
  if (line === '' || e.length === 0) return line === '' && e.length === 0;
  let off = 0;
  for (let i = 0; i < e.length; i++) {
    const n = e[i]!;
    if (!('lit' in n)) continue;
    const j = line.indexOf(n.lit, off);
    if (j === -1) return false;
    if (i !== 0 && j === off) return false;
    off = j + n.lit.length;
  }
  const endsOnCapture = 'cap' in e[e.length - 1]!;
  return endsOnCapture === (off !== line.length);
}
