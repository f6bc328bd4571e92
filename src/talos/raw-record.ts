/**
 * A Talos json_lines record read without JSON.parse: one regular expression
 * checks it is a flat JSON object JSON.parse accepts, then indexOf finds the
 * top-level fields the rule gate needs (msg, talos-service, talos-level,
 * talos-time, the host field, label fields) as spans of the raw text. Both
 * run as native code and allocate nothing, so this costs a fraction of a
 * full parse.
 *
 * It is deliberately narrow: anything else — a nested object or array,
 * whitespace between tokens, an escape in a key, a raw control character, a
 * malformed escape or number — makes `scan` return false, and the caller
 * decodes the record with JSON.parse as before. It never says "valid" for a
 * record JSON.parse rejects.
 */

/** What a watched key's last top-level value was. */
export const KIND_ABSENT = 0;
export const KIND_STRING = 1;
export const KIND_NULL = 2;
/** A number, true or false. */
export const KIND_SCALAR = 3;

// The whole grammar of a flat JSON object without whitespace, as one regular
// expression: V8 runs it as native code, several times faster than JSON.parse
// builds the object. Keys without escapes; values strings (valid escapes, no
// raw control characters), numbers, true, false, null.
const KEY = String.raw`"[^"\\\x00-\x1f]*"`;
const STR = String.raw`"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"`;
const VAL = String.raw`(?:${STR}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)`;
const FLAT_OBJECT = new RegExp(String.raw`^\{${KEY}:${VAL}(?:,${KEY}:${VAL})*\}$`);

function reEscape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/**
 * The keys as one alternation factored by common prefix (`talos-(?:level|time)`),
 * which V8's regex engine searches faster than a flat list. Exact keys only:
 * the caller appends the closing quote.
 */
function alternation(keys: readonly string[]): string {
  if (keys.length === 1) return reEscape(keys[0]!);
  let lcp = keys[0]!;
  for (const k of keys) while (!k.startsWith(lcp)) lcp = lcp.slice(0, -1);
  if (lcp !== '') return `${reEscape(lcp)}(?:${alternation(keys.map((k) => k.slice(lcp.length)))})`;
  const byFirst = new Map<string, string[]>();
  let empty = false;
  for (const k of keys) {
    if (k === '') {
      empty = true;
      continue;
    }
    const l = byFirst.get(k[0]!);
    if (l === undefined) byFirst.set(k[0]!, [k.slice(1)]);
    else l.push(k.slice(1));
  }
  const alts = [...byFirst].map(([c, rest]) => reEscape(c) + (rest.length === 1 ? reEscape(rest[0]!) : `(?:${alternation(rest)})`));
  if (empty) alts.push('');
  return alts.length === 1 ? alts[0]! : `(?:${alts.join('|')})`;
}

export class RawRecord {
  text = '';
  /** Per watched key: value span [start, end) (string contents without quotes, or the scalar's text). */
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly kind: Uint8Array;
  /** 1 when the string value contains escapes (the span is not the decoded value). */
  readonly escaped: Uint8Array;
  /** `"key":` for any watched key. */
  private readonly keyPattern: RegExp;

  /** `keys[0]` must be `msg`; the others are looked up by index in the same order. */
  constructor(readonly keys: readonly string[]) {
    const n = keys.length;
    this.start = new Int32Array(n);
    this.end = new Int32Array(n);
    this.kind = new Uint8Array(n);
    this.escaped = new Uint8Array(n);
    this.keyPattern = new RegExp(`"${alternation([...new Set(keys)])}":`, 'g');
  }

  /**
   * Scans `text`. True: a flat JSON object JSON.parse accepts, with a string
   * `msg`; the watched fields are filled in (duplicate keys: the last wins,
   * as with JSON.parse). False: decode it the ordinary way.
   */
  scan(text: string): boolean {
    this.text = text;
    if (!FLAT_OBJECT.test(text)) return false;
    const kind = this.kind;
    for (let k = 0; k < kind.length; k++) kind[k] = KIND_ABSENT;
    // In a valid flat object `"key":` only occurs at a key: inside a string
    // both quotes would be escaped, and a string's closing quote is followed
    // by `,` `:` or `}`, never by the key's text. One native pass finds every
    // watched key in order; a later duplicate overwrites.
    const re = this.keyPattern;
    re.lastIndex = 0;
    let bs = text.indexOf('\\');
    if (bs === -1) bs = 0x7fffffff;
    while (re.test(text)) {
      const vs = re.lastIndex;
      const k = this.keyEndingAt(vs - 2);
      const c = text.charCodeAt(vs);
      if (c === 0x22) {
        let e = text.indexOf('"', vs + 1);
        if (bs < vs) {
          bs = text.indexOf('\\', vs);
          if (bs === -1) bs = 0x7fffffff;
        }
        const esc = bs < e;
        while (bs < e) {
          const after = bs + (text.charCodeAt(bs + 1) === 0x75 ? 6 : 2);
          // The quote found was inside this escape (`\"`): look again after it.
          if (e < after) e = text.indexOf('"', after);
          bs = text.indexOf('\\', after);
          if (bs === -1) bs = 0x7fffffff;
        }
        kind[k] = KIND_STRING;
        this.start[k] = vs + 1;
        this.end[k] = e;
        this.escaped[k] = esc ? 1 : 0;
        re.lastIndex = e;
      } else {
        let e = vs;
        for (let x = text.charCodeAt(e); x !== 0x2c && x !== 0x7d; x = text.charCodeAt(++e));
        kind[k] = c === 0x6e ? KIND_NULL : KIND_SCALAR;
        this.start[k] = vs;
        this.end[k] = e;
        this.escaped[k] = 0;
        re.lastIndex = e;
      }
    }
    return kind[0] === KIND_STRING;
  }

  /** Which watched key ends (closing quote) at `q`: the regex matched one of them there. */
  private keyEndingAt(q: number): number {
    const keys = this.keys;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      const ks = q - key.length;
      if (this.text.charCodeAt(ks - 1) === 0x22 && this.text.startsWith(key, ks)) return k;
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
