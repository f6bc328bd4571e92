/**
 * Lazy decoding on the alert path: decides from a record's raw JSON text
 * whether it can matter to any loaded rule, so that records no rule can match
 * are counted and dropped without JSON.parse (which is half the alert path's
 * time). The rule engine is the bus's only subscriber: Loki forwarding takes every
 * raw record before the gate and decodes it on its own thread (sinks/loki/thread).
 *
 * A record can matter to a rule only if the rule's stream selector matches
 * the record's labels and every required-literal group of its line filters
 * (the same groups the shared prefilter, logql/line-filter-set.ts, uses) has
 * a literal in the line. The gate computes the labels exactly as the decoder
 * does, from the raw fields (RawRecord), and looks for the literals in the
 * raw `msg` value with that prefilter itself: one case-folded Aho–Corasick
 * pass over the msg's span of the raw text for all of the stream's rules at
 * once, so 200 rules cost about what 2 do. Only occurrences wholly inside
 * the span count (one running into the closing quote is not in the line).
 * That is conservative, never lossy:
 *   - the decoded msg differs from its raw text only at escapes; an
 *     occurrence of a literal that covers no escaped character is in the raw
 *     text verbatim; when an escape produces a character any literal contains
 *     (after case folding, so `\u0053` for `s` counts), the record is decoded;
 *   - the line is msg minus a trailing newline: fewer occurrences, not more;
 *   - a rule without required literals (only `!=`, no filter at all, a regex
 *     with no literal in every match) makes every record of its streams decode;
 *   - a record the scanner does not fully understand is decoded.
 * Stages after the line filters (parsers, label filters) only drop lines, so
 * they need not be considered. Decoded records then go through the exact
 * matching as before.
 */
import type { LogSelector } from '../logql/ast.js';
import { LineFilterSet } from '../logql/line-filter-set.js';
import { compileLabelMatcher, type LabelTest } from '../logql/label-matcher.js';
import { foldCanonTable } from '../re2/unicode-data.js';
import { labelNameOfField, type DecoderOptions, type TimeFallback } from './decode.js';
import { parseTalosTime } from './time.js';
import { KIND_STRING, RawRecord } from './raw-record.js';

export type GateOptions = Pick<DecoderOptions, 'job' | 'lineFormat' | 'hostField' | 'hostNames' | 'labelFields' | 'staticLabels' | 'futureToleranceMs'>;

/** Records counted without decoding, by host and stream (the lines_received_total labels). */
export interface GateCount {
  readonly host: string;
  readonly stream: 'kernel' | 'service';
  n: number;
}

/** What the loaded rules need from the records of one stream. */
interface StreamPlan {
  /** Chain → 1 for the chains (of the gate's LineFilterSet) of the rules whose selectors match the stream and need literals. */
  readonly wanted: Uint8Array;
  /** Some chain is wanted: look for literals. */
  readonly any: boolean;
  /** Some matching rule has no required literal: decode every record of the stream. */
  readonly always: boolean;
  readonly count: GateCount;
}

const MAX_CACHED_STREAMS = 10_000;
/** Slots of the recent-plan cache (a power of two): more than the streams one connection cycles through. */
const RECENT_SLOTS = 64;

/** A plan with the raw field values it was looked up for. */
interface RecentPlan {
  readonly plan: StreamPlan;
  readonly peer: string;
  readonly hostFromField: boolean;
  readonly host: string;
  readonly service: string | undefined;
  readonly level: string | undefined;
}

/** The compiled rules: label tests per selector; line filters in the shared prefilter. */
class GateRules {
  readonly labelTests: LabelTest[][];
  /**
   * The selectors' filter chains (id = selector index), for their required
   * literal groups and one case-folded Aho–Corasick pass over the msg for
   * all of them — the same prefilter the rule engine runs on decoded lines.
   */
  readonly filters = new LineFilterSet();
  /** Code unit → 1 when its case fold is a unit of some literal: an escape producing it could hide a match. */
  readonly relevant = new Uint8Array(0x10000);
  /** Distinct wanted-chain sets, shared by the stream plans that have the same. */
  readonly wantedSets = new Map<string, Uint8Array>();

  constructor(selectors: readonly LogSelector[]) {
    this.labelTests = selectors.map((s) => s.matchers.map(compileLabelMatcher));
    for (const s of selectors) this.filters.add(s.filters);
    this.filters.build();
    const canon = foldCanonTable();
    const units = new Set<number>();
    for (const lit of this.filters.requiredLiterals()) for (let i = 0; i < lit.length; i++) units.add(lit.charCodeAt(i));
    for (let u = 0; u < 0x10000; u++) if (units.has(canon[u]!)) this.relevant[u] = 1;
  }
}

/** Indices of the watched keys in RawRecord. */
const K_MSG = 0;
const K_SERVICE = 1;
const K_LEVEL = 2;
const K_TIME = 3;

export class RawLineGate {
  private readonly rec: RawRecord;
  private readonly hostKey: number;
  private readonly labelFieldKeys: number[];
  private readonly labelFieldNames: string[];
  private readonly raw: boolean;
  private rules: GateRules;
  private builtFrom: readonly LogSelector[];
  /** host → service → level → plan (no label fields); or by key string (label fields). */
  private byHost = new Map<string, Map<string, Map<string, StreamPlan>>>();
  private byKey = new Map<string, StreamPlan>();
  private cached = 0;
  private readonly counts = new Map<string, GateCount>();
  private lastTimePrefix = '';
  private lastTimePrefixMs = 0;
  /** Recently used plans, by slotOf (no label fields only). */
  private readonly recent: Array<RecentPlan | undefined>;
  private readonly recentMask: number;
  /** Records decided on without decoding. */
  skipped = 0;

  constructor(
    private readonly opts: GateOptions,
    /** The loaded rules' stream selectors; a new array (identity) means the rules changed. */
    private readonly selectors: () => readonly LogSelector[],
    /** Shared with the decoder: skipped records count their time fallbacks there too. */
    private readonly timeFallbacks: Record<TimeFallback, number>,
    /** Slots of the recent-plan cache, a power of two (tests use 1 so that every record checks a slot's owner). */
    recentSlots = RECENT_SLOTS,
  ) {
    if (recentSlots < 1 || (recentSlots & (recentSlots - 1)) !== 0) throw new Error(`recentSlots must be a power of two, got ${recentSlots}`);
    this.recentMask = recentSlots - 1;
    this.recent = new Array<RecentPlan | undefined>(recentSlots).fill(undefined);
    const hostField = opts.hostField ?? '';
    const labelFields = opts.labelFields.filter((f) => f !== hostField);
    const keys: string[] = ['msg', 'talos-service', 'talos-level', 'talos-time'];
    const keyIndex = (k: string): number => {
      let i = keys.indexOf(k);
      if (i < 0) i = keys.push(k) - 1;
      return i;
    };
    this.hostKey = hostField === '' ? -1 : keyIndex(hostField);
    this.labelFieldKeys = labelFields.map(keyIndex);
    this.labelFieldNames = labelFields.map(labelNameOfField);
    this.rec = new RawRecord(keys);
    this.raw = opts.lineFormat === 'raw';
    this.builtFrom = selectors();
    this.rules = this.compile(this.builtFrom);
  }

  private compile(selectors: readonly LogSelector[]): GateRules {
    const rules = new GateRules(selectors);
    this.byHost = new Map();
    this.byKey = new Map();
    this.cached = 0;
    this.recent.fill(undefined);
    return rules;
  }

  /** Counts of the records skipped, by host and stream. */
  skippedByStream(): Iterable<GateCount> {
    return this.counts.values();
  }

  /**
   * True: no loaded rule can match this record; it was counted (stream, time
   * fallback) and needs no decoding. False: decode it (it may match, or the
   * gate cannot tell, or it is malformed and the decoder will say why).
   */
  skip(text: string, peer: string, receivedMs: number): boolean {
    const sel = this.selectors();
    if (sel !== this.builtFrom) {
      this.builtFrom = sel;
      this.rules = this.compile(sel);
    }
    const rec = this.rec;
    if (!rec.scan(text)) return false;
    const kind = rec.kind;
    // The fields the stream labels come from must be unescaped strings (or absent / not strings).
    if (kind[K_SERVICE] === KIND_STRING && rec.escaped[K_SERVICE] === 1) return false;
    if (kind[K_LEVEL] === KIND_STRING && rec.escaped[K_LEVEL] === 1) return false;
    const hk = this.hostKey;
    if (hk >= 0 && kind[hk] === KIND_STRING && rec.escaped[hk] === 1) return false;
    const plan = this.planFor(peer);
    if (plan === undefined || plan.always) return false;
    if (plan.any && this.mayMatch(plan.wanted)) return false;
    // Talos time: the decoder's fallbacks are counted for skipped records too.
    const tk = kind[K_TIME];
    if (tk !== KIND_STRING) this.timeFallbacks.missing++;
    else if (rec.escaped[K_TIME] === 1) return false;
    else {
      const ms = this.timeMs(text, rec.start[K_TIME]!, rec.end[K_TIME]!);
      if (ms === undefined) this.timeFallbacks.invalid++;
      else if (ms > receivedMs + this.opts.futureToleranceMs) this.timeFallbacks.future++;
    }
    plan.count.n++;
    this.skipped++;
    return true;
  }

  /** Whether the watched string field k is absent/not a string (want undefined) or equals `want`, without slicing. */
  private fieldIs(k: number, want: string | undefined): boolean {
    const rec = this.rec;
    if (rec.kind[k] !== KIND_STRING) return want === undefined;
    return want !== undefined && rec.end[k]! - rec.start[k]! === want.length && rec.text.startsWith(want, rec.start[k]!);
  }

  /** A small hash of the service, level and host field spans (direct-mapped slot in `recent`). */
  private slotOf(): number {
    const rec = this.rec;
    const t = rec.text;
    let h = 0;
    for (let i = 0; i < 3; i++) {
      const k = i === 0 ? K_SERVICE : i === 1 ? K_LEVEL : this.hostKey;
      if (k < 0 || rec.kind[k] !== KIND_STRING) {
        h = h * 31 + 1;
        continue;
      }
      const s = rec.start[k]!;
      const e = rec.end[k]!;
      h = h * 31 + (e - s);
      if (e > s) h = h * 31 + t.charCodeAt(s) * 7 + t.charCodeAt(e - 1) * 3 + t.charCodeAt((s + e) >> 1);
      h |= 0;
    }
    return (h ^ (h >>> 7)) & this.recentMask;
  }

  private planFor(peer: string): StreamPlan | undefined {
    if (this.labelFieldKeys.length > 0) return this.lookUp(peer);
    // A connection's records cycle through a few streams (services, levels):
    // a recently seen one is recognised from the raw spans, without allocating.
    const rec = this.rec;
    const hk = this.hostKey;
    const hostFromField = hk >= 0 && rec.kind[hk] === KIND_STRING && rec.end[hk]! > rec.start[hk]!;
    const slot = this.slotOf();
    const r = this.recent[slot];
    if (r !== undefined && this.fieldIs(K_SERVICE, r.service) && this.fieldIs(K_LEVEL, r.level) && (hostFromField ? r.hostFromField && this.fieldIs(hk, r.host) : !r.hostFromField && r.peer === peer)) {
      return r.plan;
    }
    const plan = this.lookUp(peer);
    if (plan !== undefined) {
      this.recent[slot] = {
        plan,
        peer,
        hostFromField,
        host: hostFromField ? rec.valueOf(hk)! : '',
        service: rec.kind[K_SERVICE] === KIND_STRING ? rec.valueOf(K_SERVICE) : undefined,
        level: rec.kind[K_LEVEL] === KIND_STRING ? rec.valueOf(K_LEVEL) : undefined,
      };
    }
    return plan;
  }

  private lookUp(peer: string): StreamPlan | undefined {
    const rec = this.rec;
    const hk = this.hostKey;
    const host = hk >= 0 && rec.kind[hk] === KIND_STRING && rec.end[hk]! > rec.start[hk]! ? rec.valueOf(hk)! : (this.opts.hostNames[peer] ?? peer);
    const service = rec.kind[K_SERVICE] === KIND_STRING ? rec.valueOf(K_SERVICE)! : 'kernel';
    const kernel = rec.kind[K_SERVICE] !== KIND_STRING;
    const level = rec.kind[K_LEVEL] === KIND_STRING ? rec.valueOf(K_LEVEL)! : '';
    const lfk = this.labelFieldKeys;
    if (lfk.length === 0) {
      const hit = this.byHost.get(host)?.get(service)?.get(level);
      if (hit !== undefined) return hit;
      const plan = this.newPlan(host, service, level, kernel, undefined);
      if (this.cached >= MAX_CACHED_STREAMS) this.clearCache();
      let bs = this.byHost.get(host);
      if (bs === undefined) this.byHost.set(host, (bs = new Map()));
      let bl = bs.get(service);
      if (bl === undefined) bs.set(service, (bl = new Map()));
      bl.set(level, plan);
      this.cached++;
      return plan;
    }
    const values: Array<string | undefined> = [];
    let key = `${host}\u0000${service}\u0000${level}`;
    for (let i = 0; i < lfk.length; i++) {
      const k = lfk[i]!;
      if (rec.kind[k] === KIND_STRING && rec.escaped[k] === 1) return undefined;
      const v = rec.valueOf(k);
      values.push(v);
      key += v === undefined ? '\u0000\u0001' : `\u0000${v}`;
    }
    let plan = this.byKey.get(key);
    if (plan === undefined) {
      plan = this.newPlan(host, service, level, kernel, values);
      if (this.cached >= MAX_CACHED_STREAMS) this.clearCache();
      this.byKey.set(key, plan);
      this.cached++;
    }
    return plan;
  }

  private clearCache(): void {
    this.recent.fill(undefined);
    this.byHost.clear();
    this.byKey.clear();
    this.rules.wantedSets.clear();
    this.cached = 0;
  }

  /** The stream's labels built as the decoder builds them (newStream), then the selectors tested on them. */
  private newPlan(host: string, service: string, level: string, kernel: boolean, fieldValues: Array<string | undefined> | undefined): StreamPlan {
    const labels: Record<string, string> = { ...this.opts.staticLabels };
    if (fieldValues !== undefined) {
      for (let i = 0; i < fieldValues.length; i++) if (fieldValues[i] !== undefined) labels[this.labelFieldNames[i]!] = fieldValues[i]!;
    }
    labels.job = this.opts.job;
    labels.host = host;
    labels.talos_service = service;
    if (level !== '') labels.level = level;
    const { labelTests, filters, wantedSets } = this.rules;
    const chains = new Set<number>();
    let always = false;
    for (let i = 0; i < labelTests.length; i++) {
      const tests = labelTests[i]!;
      let ok = true;
      for (let j = 0; j < tests.length && ok; j++) ok = tests[j]!(labels);
      if (!ok) continue;
      const c = filters.chainOf(i);
      const groups = filters.requiredGroups(c);
      if (groups === 0) always = true;
      else if (groups > 0) chains.add(c);
    }
    const stream = kernel ? 'kernel' : 'service';
    const ck = `${host}\u0000${stream}`;
    let count = this.counts.get(ck);
    if (count === undefined) this.counts.set(ck, (count = { host, stream, n: 0 }));
    const sorted = [...chains].sort((a, b) => a - b);
    const wk = sorted.join(',');
    let wanted = wantedSets.get(wk);
    if (wanted === undefined) {
      wanted = new Uint8Array(filters.chainCount);
      for (const c of sorted) wanted[c] = 1;
      wantedSets.set(wk, wanted);
    }
    return { wanted, any: sorted.length > 0, always, count };
  }

  /** Could any wanted chain pass on the record's line? Conservative (see the file comment). */
  private mayMatch(wanted: Uint8Array): boolean {
    const rec = this.rec;
    const text = rec.text;
    let from = 0;
    let to = text.length;
    if (!this.raw) {
      from = rec.start[K_MSG]!;
      to = rec.end[K_MSG]!;
      if (rec.escaped[K_MSG] === 1 && this.escapeMayHide(text, from, to)) return true;
    }
    // Occurrences wholly inside the msg's raw text: one straddling its closing quote is not in the line.
    return this.rules.filters.prefilterRange(text, from, to, wanted);
  }

  /** Does an escape in text[from, to) produce a code unit some literal could contain? */
  private escapeMayHide(text: string, from: number, to: number): boolean {
    const relevant = this.rules.relevant;
    for (let p = text.indexOf('\\', from); p !== -1 && p < to; ) {
      const x = text.charCodeAt(p + 1);
      let unit: number;
      let len = 2;
      switch (x) {
        case 0x6e: unit = 0x0a; break; // n
        case 0x72: unit = 0x0d; break; // r
        case 0x74: unit = 0x09; break; // t
        case 0x62: unit = 0x08; break; // b
        case 0x66: unit = 0x0c; break; // f
        case 0x75: unit = parseInt(text.slice(p + 2, p + 6), 16); len = 6; break; // u (validated by the scanner)
        default: unit = x; // " \ /
      }
      if (relevant[unit] === 1) return true;
      p = text.indexOf('\\', p + len);
    }
    return false;
  }

  /**
   * talos-time in epoch ms, as parseTalosTime gives it. Records of one second
   * share the `YYYY-MM-DDTHH:MM:SS` prefix: when it equals the last one and the
   * rest is `.digits` (1–9) then `Z`, only the fraction is read.
   */
  private timeMs(text: string, from: number, to: number): number | undefined {
    const len = to - from;
    if (len >= 20 && len <= 30 && text.charCodeAt(to - 1) === 0x5a && this.lastTimePrefix !== '' && text.startsWith(this.lastTimePrefix, from)) {
      if (len === 20) return this.lastTimePrefixMs;
      if (text.charCodeAt(from + 19) === 0x2e && len >= 22) {
        let frac = 0;
        let ok = true;
        for (let i = from + 20; i < to - 1; i++) {
          const c = text.charCodeAt(i) - 48;
          if (c < 0 || c > 9) {
            ok = false;
            break;
          }
          frac = frac * 10 + c;
        }
        if (ok) {
          for (let d = len - 21; d < 9; d++) frac *= 10;
          return this.lastTimePrefixMs + Math.floor(frac / 1e6);
        }
      }
    }
    const s = text.slice(from, to);
    const t = parseTalosTime(s);
    if (t !== undefined && s.charCodeAt(s.length - 1) === 0x5a && s.charCodeAt(10) === 0x54) {
      const prefix = s.slice(0, 19);
      const base = parseTalosTime(`${prefix}Z`);
      if (base !== undefined) {
        this.lastTimePrefix = prefix;
        this.lastTimePrefixMs = base.ms;
      }
    }
    return t?.ms;
  }
}

