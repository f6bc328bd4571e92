/**
 * Submatch search in time linear in the text (a Pike VM, as Go's regexp
 * uses when backtracking is not bounded): every thread carries its own
 * capture slots, threads are kept in priority order, so the first thread to
 * match wins exactly as Go's leftmost-first semantics say, including the
 * groups (a group that took no part in the last iteration of a repetition
 * keeps its earlier value, as in Go). Cost: O(text × program) steps.
 * Used by LogQL's `| regexp` for lines too long for the bounded backtracker.
 */
import { type CodeSet, setHas } from './code-set.js';
import { type Re, parseRe2 } from './re2-syntax.js';
import { foldOrbit } from './unicode-data.js';

type Inst =
  | { op: 'char'; set: CodeSet; next: number }
  | { op: 'split'; x: number; y: number }
  | { op: 'save'; slot: number; next: number }
  | { op: 'assert'; a: 'bot' | 'eot' | 'bol' | 'eol' | 'wb' | 'nwb'; next: number }
  | { op: 'jmp'; next: number }
  | { op: 'match' };

class Compiler {
  readonly prog: Inst[] = [];

  private emit(i: Inst): number {
    this.prog.push(i);
    return this.prog.length - 1;
  }

  /** Compiles `re` to continue at `next`; returns its entry. Built back to front. */
  compile(re: Re, next: number): number {
    switch (re.k) {
      case 'empty':
        return next;
      case 'assert':
        return this.emit({ op: 'assert', a: re.a, next });
      case 'set':
        return this.emit({ op: 'char', set: re.set, next });
      case 'lit': {
        let n = next;
        for (let i = re.cps.length - 1; i >= 0; i--) {
          const cp = re.cps[i]!;
          const set: number[] = [];
          for (const c of re.fold ? [...foldOrbit(cp)].sort((a, b) => a - b) : [cp]) set.push(c, c);
          n = this.emit({ op: 'char', set, next: n });
        }
        return n;
      }
      case 'cat': {
        let n = next;
        for (let i = re.subs.length - 1; i >= 0; i--) n = this.compile(re.subs[i]!, n);
        return n;
      }
      case 'alt': {
        // Earlier branches have priority.
        let n = this.compile(re.subs[re.subs.length - 1]!, next);
        for (let i = re.subs.length - 2; i >= 0; i--) {
          const b = this.compile(re.subs[i]!, next);
          n = this.emit({ op: 'split', x: b, y: n });
        }
        return n;
      }
      case 'cap': {
        const close = this.emit({ op: 'save', slot: 2 * re.index + 1, next });
        const body = this.compile(re.sub, close);
        return this.emit({ op: 'save', slot: 2 * re.index, next: body });
      }
      case 'rep': {
        let n = next;
        if (re.max === -1) {
          // x*: L: split(body→L, next)
          const loop = this.emit({ op: 'split', x: -1, y: -1 });
          const body = this.compile(re.sub, loop);
          const l = this.prog[loop] as { op: 'split'; x: number; y: number };
          if (re.greedy) {
            l.x = body;
            l.y = next;
          } else {
            l.x = next;
            l.y = body;
          }
          n = loop;
        } else {
          // (max − min) nested optional copies: x{0,2} = (x(x)?)?; skipping any goes to `next`.
          for (let k = re.max - re.min; k > 0; k--) {
            const body = this.compile(re.sub, n);
            n = this.emit(re.greedy ? { op: 'split', x: body, y: next } : { op: 'split', x: next, y: body });
          }
        }
        for (let k = 0; k < re.min; k++) n = this.compile(re.sub, n);
        return n;
      }
    }
  }
}

function isWord(cp: number): boolean {
  return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f;
}

export interface PikeMatch {
  index: number;
  /** groups[i]: capture i (0 = whole match), undefined when it took no part. */
  groups: (string | undefined)[];
}

export class PikeRegex {
  private readonly prog: Inst[];
  private readonly start: number;
  private readonly nslots: number;

  constructor(readonly source: string) {
    const tree = parseRe2(source, { captures: true });
    const c = new Compiler();
    const match = c.prog.push({ op: 'match' }) - 1;
    const body = c.compile(tree, c.prog.push({ op: 'save', slot: 1, next: match }) - 1);
    this.start = c.prog.push({ op: 'save', slot: 0, next: body }) - 1;
    this.prog = c.prog;
    let maxIndex = 0;
    const walk = (r: Re): void => {
      if (r.k === 'cap') {
        maxIndex = Math.max(maxIndex, r.index);
        walk(r.sub);
      } else if (r.k === 'cat' || r.k === 'alt') r.subs.forEach(walk);
      else if (r.k === 'rep') walk(r.sub);
    };
    walk(tree);
    this.nslots = 2 * (maxIndex + 1);
  }

  /** The leftmost-first match in `text`, or null. */
  exec(text: string): PikeMatch | null {
    const prog = this.prog;
    const n = text.length;
    let clist: Array<{ pc: number; caps: number[] }> = [];
    let nlist: Array<{ pc: number; caps: number[] }> = [];
    const onList = new Int32Array(prog.length).fill(-1);
    let matched: number[] | undefined;
    let gen = 0;

    const cpAt = (i: number): number => {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
      }
      return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
    };
    const cpBefore = (i: number): number => {
      if (i <= 0) return -1;
      const d = text.charCodeAt(i - 1);
      if (d >= 0xdc00 && d <= 0xdfff && i >= 2) {
        const c = text.charCodeAt(i - 2);
        if (c >= 0xd800 && c <= 0xdbff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
      }
      return d >= 0xd800 && d <= 0xdfff ? 0xfffd : d;
    };

    // Follow empty transitions from pc at position pos, appending runnable threads in priority order.
    const add = (list: Array<{ pc: number; caps: number[] }>, pc0: number, caps0: number[], pos: number): void => {
      const stack: Array<{ pc: number; caps: number[] }> = [{ pc: pc0, caps: caps0 }];
      while (stack.length > 0) {
        const { pc, caps } = stack.pop()!;
        if (onList[pc] === gen) continue;
        onList[pc] = gen;
        const inst = prog[pc]!;
        switch (inst.op) {
          case 'jmp':
            stack.push({ pc: inst.next, caps });
            break;
          case 'split':
            // Push y first so x is explored first (higher priority).
            stack.push({ pc: inst.y, caps });
            stack.push({ pc: inst.x, caps });
            break;
          case 'save': {
            const c = caps.slice();
            c[inst.slot] = pos;
            stack.push({ pc: inst.next, caps: c });
            break;
          }
          case 'assert': {
            const before = cpBefore(pos);
            const after = pos < n ? cpAt(pos) : -1;
            let ok: boolean;
            switch (inst.a) {
              case 'bot':
                ok = pos === 0;
                break;
              case 'eot':
                ok = pos === n;
                break;
              case 'bol':
                ok = pos === 0 || before === 0x0a;
                break;
              case 'eol':
                ok = pos === n || after === 0x0a;
                break;
              case 'wb':
                ok = (before >= 0 && isWord(before)) !== (after >= 0 && isWord(after));
                break;
              case 'nwb':
                ok = (before >= 0 && isWord(before)) === (after >= 0 && isWord(after));
                break;
            }
            if (ok) stack.push({ pc: inst.next, caps });
            break;
          }
          default:
            list.push({ pc, caps });
        }
      }
    };

    const empty = new Array<number>(this.nslots).fill(-1);
    let pos = 0;
    gen++;
    for (;;) {
      // A new thread starting here, at the lowest priority, until something matched.
      if (matched === undefined) add(clist, this.start, empty, pos);
      if (clist.length === 0 && (matched !== undefined || pos >= n)) break;
      const cp = pos < n ? cpAt(pos) : -1;
      const width = cp > 0xffff ? 2 : 1;
      gen++;
      nlist = [];
      for (const t of clist) {
        const inst = prog[t.pc]!;
        if (inst.op === 'match') {
          matched = t.caps;
          break; // lower-priority threads are cut
        }
        if (inst.op === 'char' && cp >= 0 && setHas(inst.set, cp)) add(nlist, inst.next, t.caps, pos + width);
      }
      if (pos >= n) break;
      clist = nlist;
      pos += width;
    }
    if (matched === undefined) return null;
    const groups: (string | undefined)[] = [];
    for (let i = 0; i < this.nslots / 2; i++) {
      const a = matched[2 * i]!;
      const b = matched[2 * i + 1]!;
      groups.push(a >= 0 && b >= 0 ? text.slice(a, b) : undefined);
    }
    return { index: matched[0]!, groups };
  }
}
