/**
 * A Talos json_lines record read without JSON.parse: one pass over the text
 * checks it is a flat JSON object JSON.parse accepts and notes, on the way,
 * the spans of the top-level fields the rule gate needs (msg, talos-service,
 * talos-level, talos-time, the host field, label fields). It allocates
 * nothing and builds no object, so it costs a fraction of a full parse.
 *
 * It is deliberately narrow: anything else — a nested object or array,
 * whitespace between tokens, an escape in a key, a raw control character, a
 * malformed escape or number — makes `scan` return false, and the caller
 * decodes the record with JSON.parse as before. It never says "valid" for a
 * record JSON.parse rejects. The grammar, as the regular expression it
 * replaced (property-tested against it; the loop is about twice as fast):
 *   ^\{KEY:VAL(,KEY:VAL)*\}$   KEY = "[^"\\\x00-\x1f]*"
 *   VAL = "([^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*" | -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? | true | false | null
 */

/** What a watched key's last top-level value was. */
export const KIND_ABSENT = 0;
export const KIND_STRING = 1;
export const KIND_NULL = 2;
/** A number, true or false. */
export const KIND_SCALAR = 3;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** End of the JSON number starting at `i`, or -1 if there is none. */
function numberEnd(text: string, i: number): number {
  let p = i;
  if (text.charCodeAt(p) === 0x2d) p++; // -
  const c = text.charCodeAt(p);
  if (c === 0x30) p++;
  else if (c >= 0x31 && c <= 0x39) while (isDigit(text.charCodeAt(++p)));
  else return -1;
  if (text.charCodeAt(p) === 0x2e) {
    if (!isDigit(text.charCodeAt(++p))) return -1;
    while (isDigit(text.charCodeAt(++p)));
  }
  const e = text.charCodeAt(p);
  if (e === 0x65 || e === 0x45) {
    let q = p + 1;
    const sign = text.charCodeAt(q);
    if (sign === 0x2b || sign === 0x2d) q++;
    if (!isDigit(text.charCodeAt(q))) return -1;
    while (isDigit(text.charCodeAt(++q)));
    p = q;
  }
  return p;
}

export class RawRecord {
  text = '';
  /** Per watched key: value span [start, end) (string contents without quotes, or the scalar's text). */
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly kind: Uint8Array;
  /** 1 when the string value contains escapes (the span is not the decoded value). */
  readonly escaped: Uint8Array;

  /** `keys[0]` must be `msg`; the others are looked up by index in the same order. */
  constructor(readonly keys: readonly string[]) {
    const n = keys.length;
    this.start = new Int32Array(n);
    this.end = new Int32Array(n);
    this.kind = new Uint8Array(n);
    this.escaped = new Uint8Array(n);
  }

  /**
   * Scans `text`. True: a flat JSON object JSON.parse accepts, with a string
   * `msg`; the watched fields are filled in (duplicate keys: the last wins,
   * as with JSON.parse). False: decode it the ordinary way.
   */
  scan(text: string): boolean {
    this.text = text;
    const kind = this.kind;
    for (let k = 0; k < kind.length; k++) kind[k] = KIND_ABSENT;
    const n = text.length;
    if (n < 2 || text.charCodeAt(0) !== 0x7b || text.charCodeAt(n - 1) !== 0x7d) return false;
    let i = 1;
    for (;;) {
      // "key": no escape, no control character
      if (text.charCodeAt(i) !== QUOTE) return false;
      const ks = i + 1;
      let p = ks;
      for (let c = text.charCodeAt(p); c !== QUOTE; c = text.charCodeAt(++p)) {
        if (c === BACKSLASH || c < 0x20 || p >= n) return false;
      }
      const k = this.keyAt(ks, p);
      if (text.charCodeAt(p + 1) !== 0x3a) return false; // :
      i = p + 2;
      const c0 = text.charCodeAt(i);
      if (c0 === QUOTE) {
        let q = i + 1;
        let esc = 0;
        for (let c = text.charCodeAt(q); c !== QUOTE; c = text.charCodeAt(q)) {
          if (c === BACKSLASH) {
            esc = 1;
            const d = text.charCodeAt(q + 1);
            if (d === 0x75) {
              // \uXXXX
              if (!(isHex(text.charCodeAt(q + 2)) && isHex(text.charCodeAt(q + 3)) && isHex(text.charCodeAt(q + 4)) && isHex(text.charCodeAt(q + 5)))) return false;
              q += 6;
            } else if (d === QUOTE || d === BACKSLASH || d === 0x2f || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74) {
              q += 2;
            } else {
              return false;
            }
          } else if (c < 0x20 || q >= n) {
            return false;
          } else {
            q++;
          }
        }
        if (k >= 0) {
          kind[k] = KIND_STRING;
          this.start[k] = i + 1;
          this.end[k] = q;
          this.escaped[k] = esc;
        }
        i = q + 1;
      } else {
        let e: number;
        let what = KIND_SCALAR;
        if (c0 === 0x74) e = text.startsWith('true', i) ? i + 4 : -1;
        else if (c0 === 0x66) e = text.startsWith('false', i) ? i + 5 : -1;
        else if (c0 === 0x6e) {
          e = text.startsWith('null', i) ? i + 4 : -1;
          what = KIND_NULL;
        } else e = numberEnd(text, i);
        if (e < 0) return false;
        if (k >= 0) {
          kind[k] = what;
          this.start[k] = i;
          this.end[k] = e;
          this.escaped[k] = 0;
        }
        i = e;
      }
      const sep = text.charCodeAt(i);
      if (sep === 0x2c) {
        i++;
        continue;
      }
      if (sep === 0x7d && i === n - 1) break;
      return false;
    }
    return kind[0] === KIND_STRING;
  }

  /** Which watched key is text[ks, ke) (a later duplicate overwrites, as with JSON.parse); -1 when none. */
  private keyAt(ks: number, ke: number): number {
    const keys = this.keys;
    const len = ke - ks;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (key.length === len && this.text.startsWith(key, ks)) return k;
    }
    return -1;
  }

  /** The value of watched key `k` as the decoder would stringify it (string, number, true/false); undefined when absent or null. */
  valueOf(k: number): string | undefined {
    const kind = this.kind[k];
    if (kind === KIND_STRING) return this.text.slice(this.start[k], this.end[k]);
    if (kind !== KIND_SCALAR) return undefined;
    const s = this.text.slice(this.start[k], this.end[k]);
    // JSON.parse and Number read a JSON number to the same double; String() then matches the decoder's stringify.
    return s === 'true' || s === 'false' ? s : String(Number(s));
  }
}
