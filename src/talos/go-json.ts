/**
 * Byte-exact imitation of Go's `encoding/json` Marshal (with its default HTML
 * escaping), which is what Talos uses to encode every json_lines record.
 * Differences from JSON.stringify that matter on the wire:
 *   - `<` `>` `&` become `\u003c` `\u003e` `\u0026`; U+2028/U+2029 are escaped;
 *   - control characters use `\n` `\r` `\t` `\b` `\f` (Go ≥ 1.22) or `\u00xx`
 *     with lower-case hex;
 *   - invalid UTF-8 becomes `\ufffd` (in JS: lone surrogates);
 *   - map keys are sorted byte-wise (UTF-8 order), at every nesting level.
 */

/** Value that a Go `map[string]any` decoded from JSON can hold. */
export type GoJsonValue = string | number | boolean | null | GoJsonValue[] | { [key: string]: GoJsonValue };

const HEX = '0123456789abcdef';
// Characters that force the slow path: controls, quote, backslash, HTML, line/para separators, surrogates.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

/** The JSON string literal (with quotes) Go would write for `s`. */
export function goJsonString(s: string): string {
  return `"${goJsonEscape(s)}"`;
}

/** The inside of Go's JSON string literal for `s` (no surrounding quotes). */
export function goJsonEscape(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20) {
      switch (c) {
        case 0x0a: rep = '\\n'; break;
        case 0x0d: rep = '\\r'; break;
        case 0x09: rep = '\\t'; break;
        case 0x08: rep = '\\b'; break;
        case 0x0c: rep = '\\f'; break;
        default: rep = `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
      }
    } else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x3c) rep = '\\u003c';
    else if (c === 0x3e) rep = '\\u003e';
    else if (c === 0x26) rep = '\\u0026';
    else if (c === 0x2028) rep = '\\u2028';
    else if (c === 0x2029) rep = '\\u2029';
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A valid pair passes through; a lone surrogate is what invalid UTF-8 decodes to.
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      rep = '\\ufffd';
    }
    if (rep !== undefined) {
      if (i > start) out += s.slice(start, i);
      out += rep;
      start = i + 1;
    }
  }
  // start stays 0 only when nothing was replaced (e.g. valid surrogate pairs only).
  return start === 0 ? s : out + s.slice(start);
}

/**
 * Go's float64 encoding: shortest round-trip digits, exponent form only below
 * 1e-6 or from 1e21 up, exponent without leading zeros. JavaScript's Number
 * formatting uses the same thresholds and digit selection, so only -0 differs.
 */
export function goJsonNumber(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return String(v);
}

/** Compare two keys the way Go sorts map keys (byte-wise on UTF-8). */
export function goKeyCompare(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 code-unit order equals UTF-8 byte order except around surrogates; use Buffer then.
  if (/[\ud800-\udfff]/.test(a) || /[\ud800-\udfff]/.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : 1;
}

/** Encode any decoded-JSON value exactly as Go's json.Marshal would (maps sorted). */
export function goJsonMarshal(v: GoJsonValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string': return goJsonString(v);
    case 'number': return goJsonNumber(v);
    case 'boolean': return v ? 'true' : 'false';
    default: break;
  }
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ',';
      out += goJsonMarshal(v[i]!);
    }
    return out + ']';
  }
  const obj = v as { [key: string]: GoJsonValue };
  const keys = Object.keys(obj).sort(goKeyCompare);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out += ',';
    out += goJsonString(keys[i]!) + ':' + goJsonMarshal(obj[keys[i]!]!);
  }
  return out + '}';
}
