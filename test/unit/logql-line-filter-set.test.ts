/**
 * The shared prefilter: LineFilterSet.match must give exactly what evaluating
 * every candidate's filter chain on its own gives. The reference evaluation
 * here is independent of our engine: substring checks for |= / != and real
 * RE2 (re2-wasm) for |~ / !~.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { LineFilter, LineFilterOp } from '../../src/logql/ast.js';
import { DIRECT_MAX_CANDIDATES, LineFilterSet } from '../../src/logql/line-filter-set.js';
import { Re2Oracle } from '../fixtures/regex-corpus/re2-oracle.js';

const P = { offset: 0, line: 1, column: 1 };
const f = (op: LineFilterOp, ...values: string[]): LineFilter => ({ op, values, pos: P });

const oracles = new Map<string, Re2Oracle>();
afterAll(() => {
  for (const o of oracles.values()) o.free();
});
function re2(p: string): Re2Oracle {
  let o = oracles.get(p);
  if (o === undefined) {
    o = Re2Oracle.compile(p);
    if (o === undefined) throw new Error(`RE2 rejects ${p}`);
    oracles.set(p, o);
  }
  return o;
}

/** Reference semantics of a chain (Loki): stages ANDed, values ORed, negative ops negate. */
function reference(chain: readonly LineFilter[], line: string): boolean {
  return chain.every((st) => {
    const any = st.values.some((v) => (st.op === '|=' || st.op === '!=' ? line.includes(v) : re2(v).test(line)));
    return st.op === '|=' || st.op === '|~' ? any : !any;
  });
}

const FILTERS: LineFilter[] = [
  f('|=', 'error'),
  f('|=', 'Error'),
  f('|=', 'parent transid verify failed'),
  f('|=', 'iscsi'),
  f('|=', 'a', 'b'),
  f('|=', 'timeout', 'lost'),
  f('|=', ''),
  f('|=', 'ſ'),
  f('|=', '\u212a'),
  f('!=', 'debug'),
  f('!=', 'ok'),
  f('!=', 'error', 'warn'),
  f('!=', ''),
  f('|~', '(?i)(iscsid|iscsi).*(error|failed|timeout|lost)'),
  f('|~', '(?i)error'),
  f('|~', 'error|fail'),
  f('|~', '\\d{3}'),
  f('|~', 'sd[a-z]\\b'),
  f('|~', '(?i)btrfs.*(error|warning)'),
  f('|~', '^BTRFS'),
  f('|~', 'x+y'),
  f('|~', '(?s)usb.*DEVICE'),
  f('|~', 'usb.*DEVICE'),
  f('|~', '.*'),
  f('|~', '(a|b)*c'),
  f('|~', '(?i)k'),
  f('|~', '(?i)straße'),
  f('|~', 'ab', '(?i)lost'),
  f('|~', ''),
  f('!~', '(?i)ignore'),
  f('!~', '^$'),
  f('!~', '\\d'),
  f('!~', 'a', 'b'),
];

const FRAGMENTS = [
  'error', 'ERROR', 'Error', 'iscsi', 'ISCSID', 'iſcsi', 'timeout', 'lost', 'LOST', 'debug', 'ok', 'parent transid verify failed',
  'sda ', '123', 'BTRFS ', 'btrfs', 'usb', '\n', 'DEVICE', 'x', 'y', 'ab', 'c', 'K', 'k', '\u212a', 'STRASSE', 'warning', 'ignore',
  ' ', 'ſ', 'warn',
];

const chainArb = fc.array(fc.constantFrom(...FILTERS), { maxLength: 3 });
const lineArb = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 10 }).map((a) => a.join(''));

function matchIds(set: LineFilterSet, line: string, candidates: number[]): number[] {
  const out: number[] = [-1, -1, -1]; // stale content must not matter
  const k = set.match(line, candidates, out);
  return out.slice(0, k);
}

describe('LineFilterSet', () => {
  it('equals evaluating every candidate chain on its own (random chains, lines, candidate subsets)', () => {
    fc.assert(
      fc.property(
        fc.array(chainArb, { minLength: 1, maxLength: 40 }),
        fc.array(lineArb, { minLength: 1, maxLength: 10 }),
        fc.infiniteStream(fc.boolean()),
        (chains, lines, coin) => {
          const set = new LineFilterSet();
          const ids = chains.map((c) => set.add(c));
          set.build();
          for (const line of lines) {
            // All ids (usually the automaton path) and a random subset (often the direct path).
            const subset = ids.filter(() => coin.next().value as boolean);
            for (const cands of [ids, subset]) {
              const want = cands.filter((id) => reference(chains[id]!, line));
              expect(matchIds(set, line, cands)).toEqual(want);
            }
          }
        },
      ),
      { numRuns: Number(process.env.LOGQL_FC_RUNS ?? 250) },
    );
  });

  const seedChains = [
    [f('|=', 'parent transid verify failed')],
    [f('|~', '(?i)(iscsid|iscsi).*(error|failed|timeout|lost)')],
  ];
  const btrfs = 'BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230';
  const iscsi = 'iscsid: Kernel reported iSCSI connection 1:0 error (1022 - ISCSI_ERR_NOP_TIMEDOUT) state (3)';

  it('runs the seed rules', () => {
    const set = new LineFilterSet();
    const ids = seedChains.map((c) => set.add(c));
    set.build();
    expect(matchIds(set, btrfs, ids)).toEqual([0]);
    expect(matchIds(set, iscsi, ids)).toEqual([1]);
    expect(matchIds(set, 'NET: Registered protocol family 10', ids)).toEqual([]);
    // RE2 case folding: ſ (U+017F) folds to s.
    expect(matchIds(set, 'iſcsi: connection LOST', ids)).toEqual([1]);
    // `.` does not cross a newline.
    expect(matchIds(set, 'iscsi\nerror', ids)).toEqual([]);
  });

  it('shares one prefilter literal between chains and takes the automaton path with many candidates', () => {
    const set = new LineFilterSet();
    const ids: number[] = [];
    for (let i = 0; i < 50; i++) ids.push(set.add([f('|=', 'error'), f('!=', `skip${i}`)]));
    ids.push(set.add(seedChains[1]!));
    set.build();
    // "iscsi" (covers iscsid) and the regex's four error words; "error" is stored once for all 51 chains.
    expect(set.prefilterLiterals).toBe(1 + 4);
    expect(ids.length).toBeGreaterThan(DIRECT_MAX_CANDIDATES);
    expect(matchIds(set, 'disk error skip7', ids)).toEqual(ids.slice(0, 50).filter((id) => id !== 7));
    expect(matchIds(set, 'all fine', ids)).toEqual([]);
  });

  it('handles chains with nothing to prefilter on', () => {
    const set = new LineFilterSet();
    const never = set.add([f('!=', '')]);
    const always = set.add([]);
    const everything = set.add([f('|=', '')]);
    const negOnly = set.add([f('!~', '(?i)debug')]);
    const lit = set.add([f('|=', 'x')]);
    const ids = [never, always, everything, negOnly, lit, set.add([f('|=', 'y')])];
    set.build();
    expect(matchIds(set, 'DEBUG x', ids)).toEqual([always, everything, lit]);
    expect(matchIds(set, 'info', ids)).toEqual([always, everything, negOnly]);
    expect(matchIds(set, '', [])).toEqual([]);
  });

  it('prefilterRange: over text[from, to) exactly as over that slice, and never false when a wanted chain passes on it', () => {
    fc.assert(
      fc.property(
        fc.array(chainArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(lineArb, lineArb, lineArb), { minLength: 1, maxLength: 10 }),
        fc.infiniteStream(fc.boolean()),
        (chains, texts, coin) => {
          const set = new LineFilterSet();
          const ids = chains.map((c) => set.add(c));
          set.build();
          const wanted = new Uint8Array(set.chainCount);
          for (const id of ids) if (set.requiredGroups(set.chainOf(id)) > 0 && (coin.next().value as boolean)) wanted[set.chainOf(id)] = 1;
          for (const [before, line, after] of texts) {
            const text = before + line + after;
            const got = set.prefilterRange(text, before.length, before.length + line.length, wanted);
            expect(got).toBe(set.prefilterRange(line, 0, line.length, wanted));
            if (ids.some((id) => wanted[set.chainOf(id)] === 1 && reference(chains[id]!, line))) expect(got).toBe(true);
          }
        },
      ),
      { numRuns: Number(process.env.LOGQL_FC_RUNS ?? 250) },
    );
  });

  it('prefilterRange counts only literals wholly inside the range, case-folded, for wanted chains', () => {
    const set = new LineFilterSet();
    const seedIds = seedChains.map((c) => set.add(c));
    const neg = set.add([f('!=', 'x')]);
    const never = set.add([f('!=', '')]);
    set.build();
    const [btrfsChain, iscsiChain] = seedIds.map((id) => set.chainOf(id)) as [number, number];
    expect(set.requiredGroups(btrfsChain)).toBe(1);
    expect(set.requiredGroups(iscsiChain)).toBe(2);
    expect(set.requiredGroups(set.chainOf(neg))).toBe(0);
    expect(set.requiredGroups(set.chainOf(never))).toBe(-1);
    const wanted = new Uint8Array(set.chainCount);
    wanted[iscsiChain] = 1;
    const text = 'xxISCSI lost yy';
    expect(set.prefilterRange(text, 2, 12, wanted)).toBe(true);
    expect(set.prefilterRange(text, 3, 12, wanted)).toBe(false); // "SCSI lost": iscsi starts before the range
    expect(set.prefilterRange(text, 2, 11, wanted)).toBe(false); // "ISCSI los": lost ends after it
    expect(set.prefilterRange('iſcsi: TIMEOUT', 0, 14, wanted)).toBe(true);
    // Not wanted: the btrfs chain's literal alone says nothing.
    expect(set.prefilterRange('parent transid verify failed', 0, 28, wanted)).toBe(false);
    wanted[btrfsChain] = 1;
    expect(set.prefilterRange('parent transid verify failed', 0, 28, wanted)).toBe(true);
  });

  it('refuses registration after build and validates regexes on add', () => {
    const set = new LineFilterSet();
    expect(() => set.add([f('|~', '(unclosed')])).toThrow(/missing closing \)/);
    set.add([f('|=', 'a')]);
    set.build();
    expect(() => set.add([f('|=', 'b')])).toThrow(/after build/);
  });
});
