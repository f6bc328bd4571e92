/**
 * Over 400 lines: one recursive-descent parser; classes, groups and flags share its state.
 * RE2 regular expression syntax (Go regexp/syntax with the Perl flags Loki
 * and Prometheus compile with: ClassNL | OneLine | PerlX | UnicodeGroups),
 * parsed into a small tree over code point sets. Groups only group unless
 * parsed with `captures` (submatches, captures.ts); `(?i)` is resolved into fold-case literals and
 * folded classes, `.` into a set, `^`/`$` into begin/end of text or line.
 * What Go rejects (backreferences, lookaround, `\C`, `\Z`, counts > 1000...)
 * is rejected here with Go's error codes.
 */
import { type CodeSet, FULL_SET, setFromRanges, setNegate, setUnion } from './code-set.js';
import { PERL_CLASSES, POSIX_CLASSES, foldClosure, hasFold, unicodeClass } from './unicode-data.js';

/** bot/eot: begin/end of text (`\A`, `\z`, `^`/`$` without m); bol/eol: `(?m)^`/`(?m)$`; wb/nwb: `\b`/`\B` (ASCII). */
export type AssertKind = 'bot' | 'eot' | 'bol' | 'eol' | 'wb' | 'nwb';

export type Re =
  | { readonly k: 'empty' }
  /** Literal text; `fold`: every character matches its whole case-folding orbit. */
  | { readonly k: 'lit'; readonly cps: readonly number[]; readonly fold: boolean }
  /** One code point from the set (an empty set never matches). */
  | { readonly k: 'set'; readonly set: CodeSet }
  | { readonly k: 'assert'; readonly a: AssertKind }
  | { readonly k: 'cat'; readonly subs: readonly Re[] }
  | { readonly k: 'alt'; readonly subs: readonly Re[] }
  /** max = -1: unbounded. */
  | { readonly k: 'rep'; readonly sub: Re; readonly min: number; readonly max: number; readonly greedy: boolean }
  /** Capturing group; only produced with Re2ParseOptions.captures (LogQL's `| regexp`). `name` "" when unnamed. */
  | { readonly k: 'cap'; readonly sub: Re; readonly name: string; readonly index: number };

export class Re2SyntaxError extends Error {
  constructor(
    readonly code: string,
    readonly expr: string,
    /** UTF-16 offset in the pattern where the offending piece starts. */
    readonly offset: number,
  ) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
    this.name = 'Re2SyntaxError';
  }
}

const ANY_NOT_NL: CodeSet = [0, 9, 11, 0x10ffff];
const MAX_REPEAT = 1000;
const MAX_NESTING = 1000;
/** Bound on the expanded program size; Go's own limit is larger, ours keeps the DFA's per-state work bounded. */
const MAX_SIZE = 250_000;

interface Flags {
  fold: boolean;
  /** `(?m)` off: ^/$ are text anchors (Go's OneLine). */
  oneLine: boolean;
  dotNL: boolean;
  ungreedy: boolean;
}

const EMPTY: Re = { k: 'empty' };

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isAlnum(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}
function hexVal(c: number): number {
  if (isDigit(c)) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

class Re2Parser {
  private readonly cps: number[] = [];
  /** UTF-16 offset of each code point (plus one past the end). */
  private readonly offs: number[] = [];
  private i = 0;
  private depth = 0;
  /** Capturing groups seen so far (numbered from 1 in order of their opening parenthesis). */
  private capCount = 0;

  constructor(
    private readonly src: string,
    private readonly dotNL: boolean,
    private readonly captures = false,
  ) {
    let o = 0;
    for (const ch of src) {
      const cp = ch.codePointAt(0)!;
      this.cps.push(cp);
      this.offs.push(o);
      o += ch.length;
    }
    this.offs.push(o);
  }

  private text(from: number, to = this.cps.length): string {
    return this.src.slice(this.offs[from], this.offs[to]);
  }

  private fail(code: string, from: number, to = this.cps.length): never {
    throw new Re2SyntaxError(code, this.text(from, to), this.offs[from]!);
  }

  private peek(ahead = 0): number {
    return this.i + ahead < this.cps.length ? this.cps[this.i + ahead]! : -1;
  }

  parse(): Re {
    const flags: Flags = { fold: false, oneLine: true, dotNL: this.dotNL, ungreedy: false };
    const re = this.parseAlt(flags);
    if (this.i < this.cps.length) {
      // Only an unmatched ')' stops the top level early.
      throw new Re2SyntaxError('unexpected )', this.src, this.offs[this.i]!);
    }
    return re;
  }

  private parseAlt(flags: Flags): Re {
    const branches: Re[] = [this.parseConcat(flags)];
    while (this.peek() === 0x7c /* | */) {
      this.i++;
      branches.push(this.parseConcat(flags));
    }
    return mkAlt(branches);
  }

  private parseConcat(flags: Flags): Re {
    const items: Re[] = [];
    /** Start (code point index) of the last repetition operator, for `a**` errors. */
    let lastRepeatStart = -1;
    for (;;) {
      const c = this.peek();
      if (c === -1 || c === 0x7c || c === 0x29 /* ) */) break;
      const start = this.i;
      const rep = this.tryRepeatOp();
      if (rep !== undefined) {
        if (lastRepeatStart >= 0) this.fail('invalid nested repetition operator', lastRepeatStart, this.i);
        if (items.length === 0) this.fail('missing argument to repetition operator', start, this.i);
        const sub = items.pop()!;
        const greedy = rep.lazy === flags.ungreedy;
        const node: Re = { k: 'rep', sub, min: rep.min, max: rep.max, greedy };
        if ((rep.min >= 2 || rep.max >= 2) && !repeatIsValid(node, MAX_REPEAT)) {
          this.fail('invalid repeat count', start, this.i);
        }
        items.push(node);
        lastRepeatStart = start;
        continue;
      }
      lastRepeatStart = -1;
      const atom = this.parseAtom(flags);
      if (atom !== undefined) items.push(atom);
    }
    return mkCat(items);
  }

  /** Parses `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (each optionally lazy) at the cursor. */
  private tryRepeatOp(): { min: number; max: number; lazy: boolean } | undefined {
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === 0x2a /* * */) {
      min = 0;
      max = -1;
      this.i++;
    } else if (c === 0x2b /* + */) {
      min = 1;
      max = -1;
      this.i++;
    } else if (c === 0x3f /* ? */) {
      min = 0;
      max = 1;
      this.i++;
    } else if (c === 0x7b /* { */) {
      const r = this.scanBraces(this.i);
      if (r === undefined) return undefined;
      const start = this.i;
      this.i = r.end;
      min = r.min;
      max = r.max;
      if (min < 0 || min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
        this.fail('invalid repeat count', start, this.i);
      }
    } else {
      return undefined;
    }
    let lazy = false;
    if (this.peek() === 0x3f) {
      lazy = true;
      this.i++;
    }
    return { min, max, lazy };
  }

  /** `{n}`, `{n,}`, `{n,m}` starting at `at`; undefined when it is a literal `{` (Go's parseRepeat). */
  private scanBraces(at: number): { min: number; max: number; end: number } | undefined {
    let j = at + 1;
    const readInt = (): number | undefined => {
      const s = j;
      if (!isDigit(this.cps[j] ?? -1)) return undefined;
      // Go disallows leading zeros ("{01}" is literal text).
      if (this.cps[j] === 0x30 && isDigit(this.cps[j + 1] ?? -1)) return undefined;
      let n = 0;
      while (isDigit(this.cps[j] ?? -1)) {
        if (n >= 1e8) n = -1;
        else if (n >= 0) n = n * 10 + (this.cps[j]! - 0x30);
        j++;
      }
      return j > s ? n : undefined;
    };
    const min = readInt();
    if (min === undefined) return undefined;
    let max = min;
    if (this.cps[j] === 0x2c /* , */) {
      j++;
      if (this.cps[j] === 0x7d) max = -1;
      else {
        const m = readInt();
        if (m === undefined) return undefined;
        max = m;
        if (m === -1) max = 1e9; // overflowed: invalid count
      }
    }
    if (this.cps[j] !== 0x7d) return undefined;
    return { min, max, end: j + 1 };
  }

  private parseAtom(flags: Flags): Re | undefined {
    const start = this.i;
    const c = this.cps[this.i++]!;
    switch (c) {
      case 0x28 /* ( */:
        return this.parseGroup(flags, start);
      case 0x5b /* [ */:
        return { k: 'set', set: this.parseClass(flags, start) };
      case 0x2e /* . */:
        return { k: 'set', set: flags.dotNL ? FULL_SET : ANY_NOT_NL };
      case 0x5e /* ^ */:
        return { k: 'assert', a: flags.oneLine ? 'bot' : 'bol' };
      case 0x24 /* $ */:
        return { k: 'assert', a: flags.oneLine ? 'eot' : 'eol' };
      case 0x5c /* \ */:
        return this.parseBackslash(flags, start);
      default:
        return literal(c, flags);
    }
  }

  private parseGroup(flags: Flags, start: number): Re | undefined {
    if (++this.depth > MAX_NESTING) this.fail('expression nests too deeply', start);
    let inner: Flags = { ...flags };
    /** Name of this group when it captures ("" unnamed), undefined when it does not. */
    let capName: string | undefined = '';
    if (this.peek() === 0x3f /* ? */) {
      capName = undefined;
      const p1 = this.peek(1);
      const p2 = this.peek(2);
      if ((p1 === 0x50 /* P */ && p2 === 0x3c) || (p1 === 0x3c /* < */ && p2 !== 0x3d && p2 !== 0x21)) {
        // Named capture (?P<name>re) or (?<name>re).
        const nameStart = this.i + (p1 === 0x50 ? 3 : 2);
        let j = nameStart;
        while (j < this.cps.length && this.cps[j] !== 0x3e /* > */) j++;
        if (j >= this.cps.length) this.fail('invalid named capture', start);
        const name = this.cps.slice(nameStart, j);
        if (name.length === 0 || !name.every((x) => x === 0x5f || isAlnum(x))) {
          this.fail('invalid named capture', start, j + 1);
        }
        capName = String.fromCodePoint(...name);
        this.i = j + 1;
      } else {
        // Flags: (?flags) or (?flags:re).
        this.i++;
        let sign = 1;
        let sawFlag = false;
        const f: Flags = { ...flags };
        for (;;) {
          const c = this.peek();
          if (c === -1) this.fail('missing closing )', start);
          this.i++;
          if (c === 0x69 /* i */ || c === 0x6d /* m */ || c === 0x73 /* s */ || c === 0x55 /* U */) {
            const on = sign > 0;
            if (c === 0x69) f.fold = on;
            else if (c === 0x6d) f.oneLine = !on;
            else if (c === 0x73) f.dotNL = on;
            else f.ungreedy = on;
            sawFlag = true;
          } else if (c === 0x2d /* - */ && sign > 0) {
            sign = -1;
            sawFlag = false;
          } else if ((c === 0x3a /* : */ || c === 0x29) /* ) */ && (sign > 0 || sawFlag)) {
            if (c === 0x29) {
              // (?flags): changes the flags of the rest of the enclosing group.
              this.depth--;
              Object.assign(flags, f);
              return undefined;
            }
            inner = f;
            break;
          } else {
            this.fail('invalid or unsupported Perl syntax', start, this.i);
          }
        }
      }
    }
    const index = capName !== undefined ? ++this.capCount : 0;
    const re = this.parseAlt(inner);
    if (this.peek() !== 0x29) this.fail('missing closing )', 0);
    this.i++;
    this.depth--;
    if (this.captures && capName !== undefined) return { k: 'cap', sub: re, name: capName, index };
    return re;
  }

  private parseBackslash(flags: Flags, start: number): Re {
    const c = this.peek();
    if (c === -1) this.fail('trailing backslash at end of expression', start, this.i);
    switch (c) {
      case 0x41 /* A */:
        this.i++;
        return { k: 'assert', a: 'bot' };
      case 0x7a /* z */:
        this.i++;
        return { k: 'assert', a: 'eot' };
      case 0x62 /* b */:
        this.i++;
        return { k: 'assert', a: 'wb' };
      case 0x42 /* B */:
        this.i++;
        return { k: 'assert', a: 'nwb' };
      case 0x51 /* Q */: {
        // \Q...\E: literal text.
        this.i++;
        const cps: Re[] = [];
        while (this.i < this.cps.length) {
          if (this.cps[this.i] === 0x5c && this.cps[this.i + 1] === 0x45) {
            this.i += 2;
            break;
          }
          cps.push(literal(this.cps[this.i++]!, flags));
        }
        return mkCat(cps);
      }
      default:
        break;
    }
    const cls = this.tryClassEscape(flags);
    if (cls !== undefined) return { k: 'set', set: cls };
    this.i = start;
    return literal(this.parseEscape(), flags);
  }

  /** `\d \D \s \S \w \W \pX \p{..} \PX \P{..}` at a backslash (cursor after it); folded under (?i). */
  private tryClassEscape(flags: Flags): CodeSet | undefined {
    const start = this.i - 1;
    const c = this.peek();
    const lower = c | 0x20;
    if (lower === 0x64 || lower === 0x73 || lower === 0x77) {
      this.i++;
      const base = PERL_CLASSES[String.fromCharCode(lower)]!;
      return group(base, c !== lower, flags.fold);
    }
    if (c === 0x70 || c === 0x50 /* p P */) {
      this.i++;
      let negate = c === 0x50;
      let name: string;
      if (this.peek() === 0x7b /* { */) {
        let j = this.i + 1;
        while (j < this.cps.length && this.cps[j] !== 0x7d) j++;
        if (j >= this.cps.length) this.fail('invalid character class range', start);
        name = String.fromCodePoint(...this.cps.slice(this.i + 1, j));
        this.i = j + 1;
        if (name.startsWith('^')) {
          negate = !negate;
          name = name.slice(1);
        }
      } else {
        if (this.peek() === -1) this.fail('invalid character class range', start);
        name = String.fromCodePoint(this.cps[this.i++]!);
      }
      const set = unicodeClass(name);
      if (set === undefined) this.fail('invalid character class range', start, this.i);
      return group(set, negate, flags.fold);
    }
    return undefined;
  }

  /** A single-character escape; cursor at the backslash. */
  private parseEscape(): number {
    const start = this.i;
    this.i++;
    const c = this.peek();
    if (c === -1) this.fail('trailing backslash at end of expression', start, this.i);
    this.i++;
    if (isOctal(c) && c !== 0x30) {
      // \1-\7 alone are backreferences (unsupported); followed by an octal digit they are octal.
      if (!isOctal(this.peek())) this.fail('invalid escape sequence', start, this.i);
    }
    if (isOctal(c)) {
      let r = c - 0x30;
      for (let k = 1; k < 3 && isOctal(this.peek()); k++) r = r * 8 + (this.cps[this.i++]! - 0x30);
      return r;
    }
    switch (c) {
      case 0x78 /* x */: {
        if (this.peek() === 0x7b /* { */) {
          this.i++;
          let r = 0;
          let n = 0;
          while (hexVal(this.peek()) >= 0) {
            r = r * 16 + hexVal(this.cps[this.i++]!);
            n++;
            if (r > 0x10ffff) this.fail('invalid escape sequence', start, this.i);
          }
          if (n === 0 || this.peek() !== 0x7d) this.fail('invalid escape sequence', start, Math.min(this.i + 1, this.cps.length));
          this.i++;
          return r;
        }
        const h1 = hexVal(this.peek());
        const h2 = hexVal(this.peek(1));
        if (h1 < 0 || h2 < 0) this.fail('invalid escape sequence', start, Math.min(this.i + 2, this.cps.length));
        this.i += 2;
        return h1 * 16 + h2;
      }
      case 0x61 /* a */:
        return 7;
      case 0x66 /* f */:
        return 12;
      case 0x6e /* n */:
        return 10;
      case 0x72 /* r */:
        return 13;
      case 0x74 /* t */:
        return 9;
      case 0x76 /* v */:
        return 11;
      default:
        if (c < 0x80 && !isAlnum(c)) return c;
        return this.fail('invalid escape sequence', start, this.i);
    }
  }

  /** `[...]`; cursor after the `[`. */
  private parseClass(flags: Flags, start: number): CodeSet {
    let negate = false;
    if (this.peek() === 0x5e /* ^ */) {
      negate = true;
      this.i++;
    }
    const parts: number[] = [];
    let acc: CodeSet = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === -1) this.fail('missing closing ]', start);
      if (c === 0x5d /* ] */ && !first) {
        this.i++;
        break;
      }
      first = false;
      // [:alpha:] / [:^alpha:]
      if (c === 0x5b && this.peek(1) === 0x3a /* : */) {
        let j = this.i + 2;
        while (j + 1 < this.cps.length && !(this.cps[j] === 0x3a && this.cps[j + 1] === 0x5d)) j++;
        if (j + 1 < this.cps.length) {
          let name = String.fromCodePoint(...this.cps.slice(this.i + 2, j));
          let neg = false;
          if (name.startsWith('^')) {
            neg = true;
            name = name.slice(1);
          }
          const set = Object.hasOwn(POSIX_CLASSES, name) ? POSIX_CLASSES[name] : undefined;
          if (set === undefined) this.fail('invalid character class range', this.i, j + 2);
          acc = setUnion(acc, group(set, neg, flags.fold));
          this.i = j + 2;
          continue;
        }
      }
      if (c === 0x5c /* \ */) {
        this.i++;
        const cls = this.tryClassEscape(flags);
        if (cls !== undefined) {
          acc = setUnion(acc, cls);
          continue;
        }
        this.i--;
      }
      const rangeStart = this.i;
      const lo = this.classChar(start);
      let hi = lo;
      if (this.peek() === 0x2d /* - */ && this.peek(1) !== 0x5d && this.peek(1) !== -1) {
        this.i++;
        hi = this.classChar(start);
        if (hi < lo) this.fail('invalid character class range', rangeStart, this.i);
      }
      if (flags.fold) acc = setUnion(acc, foldClosure([lo, hi]));
      else parts.push(lo, hi);
    }
    let set = setUnion(acc, setFromRanges(parts));
    if (negate) set = setNegate(set);
    return set;
  }

  private classChar(classStart: number): number {
    const c = this.peek();
    if (c === -1) this.fail('missing closing ]', classStart);
    if (c === 0x5c) return this.parseEscape();
    this.i++;
    return c;
  }
}

/** Perl/POSIX/Unicode group with Go's appendGroup semantics: fold first, then negate. */
function group(set: CodeSet, negate: boolean, fold: boolean): CodeSet {
  const s = fold ? foldClosure(set) : set;
  return negate ? setNegate(s) : s;
}

function literal(cp: number, flags: Flags): Re {
  return { k: 'lit', cps: [cp], fold: flags.fold && hasFold(cp) };
}

/** Go's repeatIsValid: nested counted repetitions may not multiply beyond `n` copies. */
function repeatIsValid(re: Re, n: number): boolean {
  if (re.k === 'rep' && !(re.min <= 1 && re.max === -1) && !(re.min === 0 && re.max === 1)) {
    let m = re.max;
    if (m === 0) return true;
    if (m < 0) m = re.min;
    if (m > n) return false;
    if (m > 0) n = Math.floor(n / m);
  }
  switch (re.k) {
    case 'cat':
    case 'alt':
      return re.subs.every((s) => repeatIsValid(s, n));
    case 'rep':
      return repeatIsValid(re.sub, n);
    default:
      return true;
  }
}

export function mkCat(items: readonly Re[]): Re {
  const out: Re[] = [];
  for (const it of items) {
    if (it.k === 'empty') continue;
    if (it.k === 'cat') {
      for (const s of it.subs) pushCat(out, s);
    } else pushCat(out, it);
  }
  if (out.length === 0) return EMPTY;
  if (out.length === 1) return out[0]!;
  return { k: 'cat', subs: out };
}

function pushCat(out: Re[], it: Re): void {
  const last = out[out.length - 1];
  if (last !== undefined && last.k === 'lit' && it.k === 'lit' && last.fold === it.fold) {
    out[out.length - 1] = { k: 'lit', cps: [...last.cps, ...it.cps], fold: last.fold };
  } else out.push(it);
}

export function mkAlt(branches: readonly Re[]): Re {
  const out: Re[] = [];
  for (const b of branches) {
    if (b.k === 'alt') out.push(...b.subs);
    else out.push(b);
  }
  if (out.length === 1) return out[0]!;
  return { k: 'alt', subs: out };
}

/** Expanded program size (repetitions multiplied out). */
function programSize(re: Re): number {
  switch (re.k) {
    case 'cap':
      return programSize(re.sub) + 2;
    case 'empty':
    case 'assert':
    case 'set':
      return 1;
    case 'lit':
      return re.cps.length;
    case 'cat':
    case 'alt': {
      let n = 1;
      for (const s of re.subs) n += programSize(s);
      return n;
    }
    case 'rep': {
      const copies = re.max === -1 ? Math.max(re.min, 1) : re.max;
      return programSize(re.sub) * Math.max(copies, 1) + 1;
    }
  }
}

export interface Re2ParseOptions {
  /** Start with `(?s)` on: Prometheus parses label-matcher regexes with syntax.Perl|syntax.DotNL. */
  dotNL?: boolean;
  /** Keep capturing groups as `cap` nodes (otherwise groups only group). */
  captures?: boolean;
}

/** Parses an RE2 pattern; throws Re2SyntaxError with Go's error text. */
export function parseRe2(src: string, opts: Re2ParseOptions = {}): Re {
  const re = new Re2Parser(src, opts.dotNL === true, opts.captures === true).parse();
  if (programSize(re) > MAX_SIZE) throw new Re2SyntaxError('expression too large', src, 0);
  return re;
}

/** True when the set is exactly "any character but newline" (RE2's `.`). */
export function isAnyNotNL(set: CodeSet): boolean {
  return set.length === 4 && set[0] === 0 && set[1] === 9 && set[2] === 11 && set[3] === 0x10ffff;
}

export function isAnyChar(set: CodeSet): boolean {
  return set.length === 2 && set[0] === 0 && set[1] === 0x10ffff;
}

/** Whether the tree contains one of the given assertions. */
export function hasAssert(re: Re, kinds: readonly AssertKind[]): boolean {
  switch (re.k) {
    case 'assert':
      return kinds.includes(re.a);
    case 'cat':
    case 'alt':
      return re.subs.some((s) => hasAssert(s, kinds));
    case 'rep':
      return hasAssert(re.sub, kinds);
    default:
      return false;
  }
}

/** Whether `re` can match the empty string (ignoring assertions, which are zero-width). */
export function nullable(re: Re): boolean {
  switch (re.k) {
    case 'cap':
      return nullable(re.sub);
    case 'empty':
    case 'assert':
      return true;
    case 'lit':
    case 'set':
      return false;
    case 'cat':
      return re.subs.every(nullable);
    case 'alt':
      return re.subs.some(nullable);
    case 'rep':
      return re.min === 0 || nullable(re.sub);
  }
}
