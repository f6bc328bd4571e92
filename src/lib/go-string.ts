/**
 * Go's strconv.Unquote, shared by the engines (LogQL strings: Loki unquotes
 * with Prometheus' strutil.Unquote, Go's rules; template strings and
 * character constants: text/template's parser). "Interpreted" literals take
 * escapes `\a \b \f \n \r \t \v \\`, the literal's own quote (`\"` or `\'`),
 * octal `\377`, `\xff`, `\u1234`, `\U0010ffff`; `raw` ones between backticks
 * are verbatim; '…' is a character literal's body. Byte escapes (`\xc3\xa9`)
 * are UTF-8: invalid UTF-8 is an error, or (option) U+FFFD, the nearest a JS
 * string gets to Go's raw bytes.
 */

export class GoStringError extends Error {
  constructor(
    message: string,
    /** Offset within the literal (including its opening quote). */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'GoStringError';
  }
}

export interface UnquoteOptions {
  /** Byte escapes that are not UTF-8: 'error' (default) or U+FFFD ('replace'). */
  invalidUtf8?: 'error' | 'replace';
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

function hex(c: string): number {
  return /^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : -1;
}

/** Unquotes a complete literal (with its quotes: `"`, `` ` `` or `'`). Throws GoStringError. */
export function unquoteGoString(lit: string, opts: UnquoteOptions = {}): string {
  const utf8 = opts.invalidUtf8 === 'replace' ? lenientUtf8 : strictUtf8;
  const q = lit[0];
  if (lit.length < 2 || lit[lit.length - 1] !== q) throw new GoStringError('string literal not terminated', 0);
  const body = lit.slice(1, -1);
  if (q === '`') {
    if (body.includes('`')) throw new GoStringError('unexpected backquote in raw string', body.indexOf('`') + 1);
    return body;
  }
  if (q !== '"' && q !== "'") throw new GoStringError('invalid string literal', 0);
  let out = '';
  let bytes: number[] = [];
  const flush = (at: number): void => {
    if (bytes.length === 0) return;
    try {
      out += utf8.decode(Uint8Array.from(bytes));
    } catch {
      throw new GoStringError('invalid UTF-8 in byte escapes', at);
    }
    bytes = [];
  };
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c === q) throw new GoStringError(`unescaped ${q} in string`, i + 1);
    if (c === '\n') throw new GoStringError('newline in string', i + 1);
    if (c !== '\\') {
      flush(i + 1);
      out += c;
      i++;
      continue;
    }
    const start = i + 1; // offset in `lit` of the backslash
    const e = body[i + 1];
    if (e === undefined) throw new GoStringError('invalid escape sequence', start);
    i += 2;
    if (Object.hasOwn(SIMPLE_ESCAPES, e) || e === q) {
      flush(start);
      out += e === q ? q : SIMPLE_ESCAPES[e];
      continue;
    }
    if (e >= '0' && e <= '7') {
      const digits = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(digits)) throw new GoStringError('invalid octal escape', start);
      const v = parseInt(digits, 8);
      if (v > 255) throw new GoStringError('octal escape value > 255', start);
      i += 2;
      if (v < 0x80) {
        flush(start);
        out += String.fromCharCode(v);
      } else bytes.push(v);
      continue;
    }
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (width === 0) throw new GoStringError(`unknown escape sequence \\${e}`, start);
    let v = 0;
    for (let k = 0; k < width; k++) {
      const h = hex(body[i + k] ?? '');
      if (h < 0) throw new GoStringError(`invalid \\${e} escape`, start);
      v = v * 16 + h;
    }
    i += width;
    if (e === 'x') {
      if (v < 0x80) {
        flush(start);
        out += String.fromCharCode(v);
      } else bytes.push(v);
      continue;
    }
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new GoStringError('escape sequence is invalid Unicode code point', start);
    flush(start);
    out += String.fromCodePoint(v);
  }
  flush(body.length + 1);
  return out;
}
