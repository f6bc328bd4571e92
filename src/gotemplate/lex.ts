/**
 * The template lexer (Go's text/template/parse/lex.go): text and `{{ … }}`
 * actions with trim markers and comments, into items for the parser. Errors
 * carry Go's texts and the offset where they occur.
 */

type Tok =
  | 'text'
  | 'left'
  | 'right'
  | 'space'
  | 'ident'
  | 'keyword'
  | 'field'
  | 'dot'
  | 'var'
  | 'string'
  | 'raw'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'eof';

export interface Item {
  t: Tok;
  val: string;
  pos: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const SPACE_CHARS = ' \t\r\n';

export class LexError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

function isSpace(c: string | undefined): boolean {
  return c !== undefined && SPACE_CHARS.includes(c);
}

function isAlnum(c: string | undefined): boolean {
  return c !== undefined && (c === '_' || /^[\p{L}\p{Nd}]$/u.test(c));
}

function describeRune(c: string): string {
  const cp = c.codePointAt(0)!;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

export function lex(src: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  const n = src.length;
  while (pos < n) {
    // Text up to the next action.
    let l = src.indexOf('{{', pos);
    if (l < 0) l = n;
    const trimLeft = l < n && src[l + 2] === '-' && isSpace(src[l + 3]);
    let textEnd = l;
    if (trimLeft) while (textEnd > pos && isSpace(src[textEnd - 1])) textEnd--;
    if (textEnd > pos) items.push({ t: 'text', val: src.slice(pos, textEnd), pos });
    if (l >= n) break;
    pos = lexAction(src, l, items);
  }
  items.push({ t: 'eof', val: '', pos: n });
  return items;
}

/** Lex one `{{ … }}` starting at `start`; returns the position after it (and after trimmed space). */
function lexAction(src: string, start: number, items: Item[]): number {
  const n = src.length;
  let pos = start + 2;
  if (src[pos] === '-' && isSpace(src[pos + 1])) pos += 2;
  const afterRight = (p: number): number | undefined => {
    // returns the end of `}}` / ` -}}` at p, with trailing-space trimming applied
    if (src.startsWith('}}', p)) return p + 2;
    if (isSpace(src[p]) && src[p + 1] === '-' && src.startsWith('}}', p + 2)) {
      let q = p + 4;
      while (q < n && isSpace(src[q])) q++;
      return q;
    }
    return undefined;
  };
  // Comment: `{{/* … */}}`, only right after the delimiter (and trim marker).
  if (src.startsWith('/*', pos)) {
    const close = src.indexOf('*/', pos + 2);
    if (close < 0) throw new LexError('unclosed comment', start);
    const end = afterRight(close + 2);
    if (end === undefined) throw new LexError('comment ends before closing delimiter', start);
    return end;
  }
  items.push({ t: 'left', val: '{{', pos: start });
  let parenDepth = 0;
  for (;;) {
    const end = afterRight(pos);
    if (end !== undefined && parenDepth === 0) {
      items.push({ t: 'right', val: '}}', pos });
      return end;
    }
    if (end !== undefined) throw new LexError('unclosed left paren', pos);
    if (pos >= n) throw new LexError('unclosed action', start);
    const c = src[pos]!;
    const p0 = pos;
    if (isSpace(c)) {
      while (pos < n && isSpace(src[pos]) && afterRight(pos) === undefined) pos++;
      items.push({ t: 'space', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === '=') {
      items.push({ t: 'assign', val: '=', pos: p0 });
      pos++;
      continue;
    }
    if (c === ':') {
      if (src[pos + 1] !== '=') throw new LexError('expected :=', pos);
      items.push({ t: 'declare', val: ':=', pos: p0 });
      pos += 2;
      continue;
    }
    if (c === '|') {
      items.push({ t: 'pipe', val: '|', pos: p0 });
      pos++;
      continue;
    }
    if (c === ',') {
      items.push({ t: 'comma', val: ',', pos: p0 });
      pos++;
      continue;
    }
    if (c === '(') {
      parenDepth++;
      items.push({ t: 'lparen', val: '(', pos: p0 });
      pos++;
      continue;
    }
    if (c === ')') {
      if (--parenDepth < 0) throw new LexError('unexpected right paren', pos);
      items.push({ t: 'rparen', val: ')', pos: p0 });
      pos++;
      continue;
    }
    if (c === '"') {
      pos++;
      for (;;) {
        const d = src[pos];
        if (d === undefined || d === '\n') throw new LexError('unterminated quoted string', p0);
        if (d === '\\') pos += 2;
        else if (d === '"') break;
        else pos++;
      }
      pos++;
      items.push({ t: 'string', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === '`') {
      const close = src.indexOf('`', pos + 1);
      if (close < 0) throw new LexError('unterminated raw quoted string', p0);
      pos = close + 1;
      items.push({ t: 'raw', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === "'") {
      pos++;
      for (;;) {
        const d = src[pos];
        if (d === undefined || d === '\n') throw new LexError('unterminated character constant', p0);
        if (d === '\\') pos += 2;
        else if (d === "'") break;
        else pos++;
      }
      pos++;
      items.push({ t: 'char', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (c === '$') {
      pos++;
      while (isAlnum(src[pos])) pos++;
      items.push({ t: 'var', val: src.slice(p0, pos), pos: p0 });
      checkTerminator(src, pos, afterRight);
      continue;
    }
    if (c === '.') {
      if (src[pos + 1] !== undefined && /[0-9]/.test(src[pos + 1]!)) {
        pos = lexNumber(src, pos);
        items.push({ t: 'number', val: src.slice(p0, pos), pos: p0 });
        continue;
      }
      pos++;
      if (!isAlnum(src[pos])) {
        items.push({ t: 'dot', val: '.', pos: p0 });
        continue;
      }
      while (isAlnum(src[pos])) pos++;
      items.push({ t: 'field', val: src.slice(p0, pos), pos: p0 });
      checkTerminator(src, pos, afterRight);
      continue;
    }
    if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
      pos = lexNumber(src, pos);
      items.push({ t: 'number', val: src.slice(p0, pos), pos: p0 });
      continue;
    }
    if (isAlnum(c)) {
      while (isAlnum(src[pos])) pos++;
      const word = src.slice(p0, pos);
      const t: Tok = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'ident';
      items.push({ t, val: word, pos: p0 });
      checkTerminator(src, pos, afterRight);
      continue;
    }
    const ch = String.fromCodePoint(src.codePointAt(pos)!);
    throw new LexError(`unrecognized character in action: ${describeRune(ch)}`, pos);
  }
}

/** After a word: a space, `.`, `,`, `|`, `:`, `(`, `)` or the delimiter must follow. */
function checkTerminator(src: string, pos: number, afterRight: (p: number) => number | undefined): void {
  const c = src[pos];
  if (c === undefined || isSpace(c) || '.,|:()'.includes(c) || afterRight(pos) !== undefined) return;
  throw new LexError(`bad character ${describeRune(String.fromCodePoint(src.codePointAt(pos)!))}`, pos);
}

function lexNumber(src: string, pos: number): number {
  const start = pos;
  const accept = (set: string): boolean => {
    if (src[pos] !== undefined && set.includes(src[pos]!)) {
      pos++;
      return true;
    }
    return false;
  };
  const acceptRun = (set: string): void => {
    while (src[pos] !== undefined && set.includes(src[pos]!)) pos++;
  };
  accept('+-');
  let digits = '0123456789_';
  if (accept('0')) {
    if (accept('xX')) digits = '0123456789abcdefABCDEF_';
    else if (accept('oO')) digits = '01234567_';
    else if (accept('bB')) digits = '01_';
  }
  acceptRun(digits);
  if (accept('.')) acceptRun(digits);
  if (digits.length === 11 && accept('eE')) {
    accept('+-');
    acceptRun('0123456789_');
  }
  if (digits.length === 23 && accept('pP')) {
    accept('+-');
    acceptRun('0123456789_');
  }
  accept('i');
  if (isAlnum(src[pos])) throw new LexError(`bad number syntax: "${src.slice(start, pos + 1)}"`, start);
  return pos;
}
