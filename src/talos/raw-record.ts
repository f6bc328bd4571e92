/**
 * A Talos json_lines record read without JSON.parse: one pass that finds the
 * top-level string fields the rule gate needs (msg, talos-service,
 * talos-level, talos-time, the host field, label fields) as spans of the raw
 * text, and checks the record is JSON that JSON.parse would accept the same
 * way. It jumps from quote to quote with indexOf (native), so it costs a
 * fraction of a full parse and allocates nothing.
 *
 * It is deliberately narrow: anything it does not fully understand — a
 * nested object or array, whitespace between tokens, an escape in a key, a
 * raw control character, a malformed escape or number, a watched field that
 * is escaped or not a string where one is needed — makes `scan` return
 * false, and the caller decodes the record with JSON.parse as before. It
 * never says "valid" for a record JSON.parse rejects.
 */

/** What a watched key's last top-level value was. */
export const KIND_ABSENT = 0;
export const KIND_STRING = 1;
export const KIND_NULL = 2;
/** A number, true or false. */
export const KIND_SCALAR = 3;

// A raw control character is invalid inside a JSON string; outside strings the
// scanner accepts no whitespace at all, so one test covers the whole record.
const CONTROL = /[\u0000-\u001f]/;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export class RawRecord {
  text = '';
  /** Per watched key: value span [start, end) (string contents without quotes, or the scalar's text). */
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly kind: Uint8Array;
  /** 1 when the string value contains escapes (the span is not the decoded value). */
  readonly escaped: Uint8Array;
  private readonly byLength = new Map<number, number[]>();

  /** `keys[0]` must be `msg`; the others are looked up by index in the same order. */
  constructor(readonly keys: readonly string[]) {
    const n = keys.length;
    this.start = new Int32Array(n);
    this.end = new Int32Array(n);
    this.kind = new Uint8Array(n);
    this.escaped = new Uint8Array(n);
    keys.forEach((k, i) => {
      const l = this.byLength.get(k.length);
      if (l === undefined) this.byLength.set(k.length, [i]);
      else if (!l.some((j) => keys[j] === k)) l.push(i);
    });
  }

  private watched(ks: number, ke: number): number {
    const cands = this.byLength.get(ke - ks);
    if (cands === undefined) return -1;
    for (let i = 0; i < cands.length; i++) {
      const k = cands[i]!;
      if (this.text.startsWith(this.keys[k]!, ks)) return k;
    }
    return -1;
  }

  /**
   * Scans `text`. True: a flat JSON object JSON.parse accepts, with a string
   * `msg`; the watched fields are filled in (duplicate keys: the last wins,
   * as with JSON.parse). False: decode it the ordinary way.
   */
  scan(text: string): boolean {
    this.text = text;
    this.kind.fill(KIND_ABSENT);
    const n = text.length;
    if (n < 2 || text.charCodeAt(0) !== 0x7b || text.charCodeAt(n - 1) !== 0x7d) return false;
    if (CONTROL.test(text)) return false;
    let bs = text.indexOf('\\');
    if (bs === -1) bs = n;
    let i = 1;
    for (;;) {
      // Key: a string without escapes.
      if (text.charCodeAt(i) !== 0x22) return false;
      const ke = text.indexOf('"', i + 1);
      if (ke === -1 || bs < ke) return false;
      const w = this.watched(i + 1, ke);
      if (text.charCodeAt(ke + 1) !== 0x3a) return false;
      i = ke + 2;
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        // String value: find the closing quote, validating escapes on the way.
        const vs = i + 1;
        let e = text.indexOf('"', vs);
        if (e === -1) return false;
        let esc = false;
        while (bs < e) {
          esc = true;
          const x = text.charCodeAt(bs + 1);
          let len = 2;
          if (x === 0x75) {
            if (!(isHex(text.charCodeAt(bs + 2)) && isHex(text.charCodeAt(bs + 3)) && isHex(text.charCodeAt(bs + 4)) && isHex(text.charCodeAt(bs + 5)))) return false;
            len = 6;
          } else if (x !== 0x22 && x !== 0x5c && x !== 0x2f && x !== 0x62 && x !== 0x66 && x !== 0x6e && x !== 0x72 && x !== 0x74) {
            return false;
          }
          const after = bs + len;
          // The quote found was inside this escape (`\"`): look again after it.
          if (e < after) {
            e = text.indexOf('"', after);
            if (e === -1) return false;
          }
          bs = text.indexOf('\\', after);
          if (bs === -1) bs = n;
        }
        if (w >= 0) {
          this.kind[w] = KIND_STRING;
          this.start[w] = vs;
          this.end[w] = e;
          this.escaped[w] = esc ? 1 : 0;
        }
        i = e + 1;
      } else {
        const vs = i;
        let kind: number;
        if (c === 0x74 && text.startsWith('true', i)) {
          kind = KIND_SCALAR;
          i += 4;
        } else if (c === 0x66 && text.startsWith('false', i)) {
          kind = KIND_SCALAR;
          i += 5;
        } else if (c === 0x6e && text.startsWith('null', i)) {
          kind = KIND_NULL;
          i += 4;
        } else {
          // Number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
          kind = KIND_SCALAR;
          if (text.charCodeAt(i) === 0x2d) i++;
          const d0 = text.charCodeAt(i);
          if (d0 === 0x30) i++;
          else if (d0 >= 0x31 && d0 <= 0x39) while (isDigit(text.charCodeAt(++i)));
          else return false; // nested object/array or not JSON: the full decoder decides
          if (text.charCodeAt(i) === 0x2e) {
            if (!isDigit(text.charCodeAt(++i))) return false;
            while (isDigit(text.charCodeAt(++i)));
          }
          const ex = text.charCodeAt(i);
          if (ex === 0x65 || ex === 0x45) {
            const sg = text.charCodeAt(++i);
            if (sg === 0x2b || sg === 0x2d) i++;
            if (!isDigit(text.charCodeAt(i))) return false;
            while (isDigit(text.charCodeAt(++i)));
          }
        }
        if (w >= 0) {
          this.kind[w] = kind;
          this.start[w] = vs;
          this.end[w] = i;
          this.escaped[w] = 0;
        }
      }
      const sep = text.charCodeAt(i);
      if (sep === 0x2c) {
        i++;
        continue;
      }
      if (sep === 0x7d && i === n - 1) break;
      return false;
    }
    return this.kind[0] === KIND_STRING;
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
