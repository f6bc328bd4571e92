/**
 * A JSON scanner with the leniency and error texts of github.com/grafana/jsonparser,
 * which Loki's `json`, `unpack` and `json a="path"` stages use
 * (vendor/github.com/grafana/jsonparser/parser.go: ObjectEach, getType,
 * stringEnd, blockEnd). It walks an object's members without building a
 * tree, so members before a syntax error are still seen, trailing text after
 * the closing brace is ignored, and values are only delimited, not validated
 * (a number is whatever runs up to `,`, `}`, `]` or whitespace).
 */

export const MalformedJson = 'Malformed JSON error';
export const MalformedString = "Value is string, but can't find closing '\"' symbol";
export const MalformedArray = "Value is array, but can't find closing ']' symbol";
export const MalformedObject = "Value looks like object, but can't find closing '}' symbol";
export const MalformedValue = "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol";
export const MalformedStringEscape = 'Encountered an invalid escape sequence in a string';
export const UnknownValueType = 'Unknown value type';

export type JsonType = 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array';

export class JsonScanError extends Error {}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the next non-whitespace character at or after i, or -1. */
export function nextToken(s: string, i: number): number {
  for (; i < s.length; i++) if (!isSpace(s.charCodeAt(i))) return i;
  return -1;
}

/** End (index after the closing quote) of a string whose content starts at i, or -1. */
function stringEnd(s: string, i: number): number {
  for (let j = i; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) {
      // Closing unless preceded by an odd number of backslashes.
      let k = j - 1;
      let n = 0;
      while (k >= i && s.charCodeAt(k) === 0x5c) {
        n++;
        k--;
      }
      if (n % 2 === 0) return j + 1;
    }
  }
  return -1;
}

/** End (index after) of the block opened at i, counting only open/close (strings skipped), or -1. */
function blockEnd(s: string, i: number, open: number, close: number): number {
  let level = 0;
  for (let j = i; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) {
      const e = stringEnd(s, j + 1);
      if (e === -1) return -1;
      j = e - 1;
    } else if (c === open) level++;
    else if (c === close) {
      level--;
      if (level === 0) return j + 1;
    }
  }
  return -1;
}

function tokenEnd(s: string, i: number): number {
  for (let j = i; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x2c || c === 0x7d || c === 0x5d) return j;
  }
  return s.length;
}

export interface JsonValue {
  type: JsonType;
  /** Start and end of the raw value text (strings: without the quotes). */
  start: number;
  end: number;
  /** Index after the value. */
  next: number;
}

/** jsonparser getType: the value starting at the first token at or after i. */
export function valueAt(s: string, from: number): JsonValue {
  const i = nextToken(s, from);
  if (i === -1) throw new JsonScanError(MalformedJson);
  const c = s.charCodeAt(i);
  if (c === 0x22) {
    const e = stringEnd(s, i + 1);
    if (e === -1) throw new JsonScanError(MalformedString);
    return { type: 'string', start: i + 1, end: e - 1, next: e };
  }
  if (c === 0x5b || c === 0x7b) {
    const e = blockEnd(s, i, c, c === 0x5b ? 0x5d : 0x7d);
    if (e === -1) throw new JsonScanError(c === 0x5b ? MalformedArray : MalformedObject);
    return { type: c === 0x5b ? 'array' : 'object', start: i, end: e, next: e };
  }
  const e = tokenEnd(s, i);
  const raw = s.slice(i, e);
  let type: JsonType;
  if (c === 0x74 || c === 0x66) {
    if (raw !== 'true' && raw !== 'false') throw new JsonScanError(UnknownValueType);
    type = 'boolean';
  } else if (c === 0x75 || c === 0x6e) {
    if (raw !== 'null') throw new JsonScanError(UnknownValueType);
    type = 'null';
  } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
    type = 'number';
  } else {
    throw new JsonScanError(UnknownValueType);
  }
  return { type, start: i, end: e, next: e };
}

/**
 * jsonparser ObjectEach over the object starting at the first token at or
 * after `from`. Calls `member(key, value)` for each member in order; throws
 * JsonScanError with jsonparser's message at the first syntax error.
 */
export function eachMember(s: string, from: number, to: number, member: (key: string, v: JsonValue) => boolean | void): void {
  let i = nextToken(s, from);
  if (i === -1 || i >= to || s.charCodeAt(i) !== 0x7b) throw new JsonScanError(MalformedObject);
  i++;
  i = nextToken(s, i);
  if (i === -1 || i >= to) throw new JsonScanError(MalformedJson);
  if (s.charCodeAt(i) === 0x7d) return;
  while (i < to) {
    const c = s.charCodeAt(i);
    if (c === 0x7d) return;
    if (c !== 0x22) throw new JsonScanError(MalformedObject);
    const e = stringEnd(s, i + 1);
    if (e === -1 || e > to) throw new JsonScanError(MalformedJson);
    const rawKey = s.slice(i + 1, e - 1);
    let key = rawKey;
    if (rawKey.includes('\\')) {
      const u = unescapeJson(rawKey);
      if (u === undefined) throw new JsonScanError(MalformedStringEscape);
      key = u;
    }
    i = nextToken(s, e);
    if (i === -1 || i >= to || s.charCodeAt(i) !== 0x3a) throw new JsonScanError(MalformedJson);
    const v = valueAt(s, i + 1);
    if (v.next > to) throw new JsonScanError(MalformedObject);
    if (member(key, v) === true) return; // the caller has what it wanted (jsonparser.EachKey stops too)
    i = nextToken(s, v.next);
    if (i === -1 || i >= to) throw new JsonScanError(MalformedArray);
    const d = s.charCodeAt(i);
    if (d === 0x7d) return;
    if (d !== 0x2c) throw new JsonScanError(MalformedObject);
    i = nextToken(s, i + 1);
    if (i === -1 || i >= to) throw new JsonScanError(MalformedArray);
  }
  throw new JsonScanError(MalformedObject);
}

/** jsonparser ArrayEach-style walk over an array's elements (for `[n]` paths). */
export function arrayElement(s: string, v: JsonValue, index: number): JsonValue | undefined {
  let i = nextToken(s, v.start + 1);
  if (i === -1 || i >= v.end) return undefined;
  if (s.charCodeAt(i) === 0x5d) return undefined;
  for (let n = 0; ; n++) {
    const e = valueAt(s, i);
    if (n === index) return e;
    i = nextToken(s, e.next);
    if (i === -1 || i >= v.end || s.charCodeAt(i) !== 0x2c) return undefined;
    i = nextToken(s, i + 1);
    if (i === -1) return undefined;
  }
}

/**
 * JSON string unescaping (jsonparser.Unescape); undefined for an invalid
 * escape. A lone surrogate escape decodes to U+FFFD, as in Go.
 */
export function unescapeJson(raw: string): string | undefined {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = raw[++i];
    switch (n) {
      case '"':
      case '\\':
      case '/':
        out += n;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        const h = raw.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) return undefined;
        let cp = parseInt(h, 16);
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {
          const lo = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})/.exec(raw.slice(i + 1, i + 7));
          if (lo !== null) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (parseInt(lo[1]!, 16) - 0xdc00);
            i += 6;
          } else cp = 0xfffd;
        } else if (cp >= 0xdc00 && cp < 0xe000) cp = 0xfffd;
        out += String.fromCodePoint(cp);
        break;
      }
      default:
        return undefined;
    }
  }
  return out;
}

/** Loki's unescapeJSONString: "" when unescaping fails; U+FFFD becomes a space. */
export function jsonStringValue(raw: string): string {
  const u = unescapeJson(raw);
  if (u === undefined) return '';
  return u.includes('\ufffd') ? u.replace(/\ufffd/g, ' ') : u;
}
