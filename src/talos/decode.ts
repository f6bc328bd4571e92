/**
 * One Talos json_lines record → one LogEvent, with the seed pipeline's labels:
 * job, host (peer IP or mapped name), talos_service (`kernel` when absent),
 * level (`talos-level`; the seed's Vector config read a `level` field Talos
 * never sends). Decoding happens once; the same line goes to rules and Loki.
 */
import { LabelSetCache, type LabelSet, type LogEvent } from '../log-event.js';
import { parseTalosTime } from './time.js';
import type { RejectReason } from '../sources/ingest-target.js';

export interface DecoderOptions {
  job: string;
  lineFormat: 'msg' | 'raw';
  hostNames: Readonly<Record<string, string>>;
  /** Record fields promoted to labels; `-` becomes `_` in the label name. */
  labelFields: readonly string[];
  staticLabels: Readonly<Record<string, string>>;
  futureToleranceMs: number;
  /** Build structured metadata from the remaining fields (Loki stores it; rules filter and group on it). */
  metadata: boolean;
}

export type TimeFallback = 'missing' | 'invalid' | 'future';

export type DecodeResult = LogEvent | RejectReason;

/** Streams looked up without interning; past it the lookup starts over. */
const MAX_CACHED_STREAMS = 10_000;

/** Fields that are never structured metadata: they are the line, the time or labels. */
const CORE_FIELDS = new Set(['msg', 'talos-time', 'talos-level', 'talos-service']);

export class TalosDecoder {
  readonly labelSets: LabelSetCache;
  /** Records whose time was replaced, by why. */
  readonly timeFallbacks: Record<TimeFallback, number> = { missing: 0, invalid: 0, future: 0 };
  private readonly streams = new Map<string, LabelSet>();
  /**
   * host → service → level → stream: the lookup without label fields (the
   * default), by the strings the record already has, so no key is built and
   * hashed per line. Shares the `streams` bound.
   */
  private readonly byHost = new Map<string, Map<string, Map<string, LabelSet>>>();
  private byHostCount = 0;
  private readonly labelFieldNames: string[];
  private readonly skipMeta: Set<string>;

  constructor(
    private readonly opts: DecoderOptions,
    labelSets = new LabelSetCache(),
  ) {
    this.labelSets = labelSets;
    this.labelFieldNames = opts.labelFields.map((f) => f.replace(/[^a-zA-Z0-9_]/g, '_'));
    this.skipMeta = new Set([...CORE_FIELDS, ...opts.labelFields]);
  }

  decode(text: string, peer: string, receivedMs: number): DecodeResult {
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      return 'invalid_json';
    }
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return 'not_object';
    const r = rec as Record<string, unknown>;
    const msg = r.msg;
    if (typeof msg !== 'string') return 'missing_msg';

    const service = r['talos-service'];
    const isKernel = typeof service !== 'string';
    const level = typeof r['talos-level'] === 'string' ? (r['talos-level'] as string) : '';
    const host = this.opts.hostNames[peer] ?? peer;
    const stream = this.streamFor(host, isKernel ? 'kernel' : (service as string), level, r);

    let timeMs: number;
    let timeNsRem: number;
    const t = r['talos-time'];
    const parsed = typeof t === 'string' ? parseTalosTime(t) : undefined;
    if (parsed === undefined) {
      this.timeFallbacks[typeof t === 'string' ? 'invalid' : 'missing']++;
      timeMs = receivedMs;
      timeNsRem = 0;
    } else if (parsed.ms > receivedMs + this.opts.futureToleranceMs) {
      this.timeFallbacks.future++;
      timeMs = receivedMs;
      timeNsRem = 0;
    } else {
      timeMs = parsed.ms;
      timeNsRem = parsed.nsRem;
    }

    let line: string;
    let metadata: Record<string, string> | undefined;
    if (this.opts.lineFormat === 'raw') {
      line = text;
    } else {
      // Kernel records keep printk's trailing newline; Loki users never want it.
      line = msg.charCodeAt(msg.length - 1) === 0x0a ? msg.slice(0, msg.charCodeAt(msg.length - 2) === 0x0d ? -2 : -1) : msg;
      if (this.opts.metadata) metadata = this.metadataOf(r);
    }
    return { timeMs, timeNsRem, receivedMs, line, stream, metadata, source: isKernel ? 'kernel' : 'service' };
  }

  private streamFor(host: string, service: string, level: string, r: Record<string, unknown>): LabelSet {
    if (this.opts.labelFields.length === 0) {
      const hit = this.byHost.get(host)?.get(service)?.get(level);
      if (hit !== undefined) return hit;
      const set = this.newStream(host, service, level, r);
      // Bounded by starting over (streams in use come back at once through the
      // interned LabelSetCache), so invented label values leave no memory behind.
      if (this.byHostCount >= MAX_CACHED_STREAMS) {
        this.byHost.clear();
        this.byHostCount = 0;
      }
      {
        let byService = this.byHost.get(host);
        if (byService === undefined) this.byHost.set(host, (byService = new Map()));
        let byLevel = byService.get(service);
        if (byLevel === undefined) byService.set(service, (byLevel = new Map()));
        byLevel.set(level, set);
        this.byHostCount++;
      }
      return set;
    }
    let key = `${host}\u0000${service}\u0000${level}`;
    const fields = this.opts.labelFields;
    for (let i = 0; i < fields.length; i++) key += `\u0000${stringify(r[fields[i]!])}`;
    let set = this.streams.get(key);
    if (set === undefined) {
      set = this.newStream(host, service, level, r);
      // Bounded: a sender inventing label values cannot grow this map forever.
      if (this.streams.size >= MAX_CACHED_STREAMS) this.streams.clear();
      this.streams.set(key, set);
    }
    return set;
  }

  private newStream(host: string, service: string, level: string, r: Record<string, unknown>): LabelSet {
    const fields = this.opts.labelFields;
    const labels: Record<string, string> = { ...this.opts.staticLabels };
    for (let i = 0; i < fields.length; i++) {
      const v = r[fields[i]!];
      if (v !== undefined && v !== null) labels[this.labelFieldNames[i]!] = stringify(v);
    }
    labels.job = this.opts.job;
    labels.host = host;
    labels.talos_service = service;
    if (level !== '') labels.level = level;
    return this.labelSets.intern(labels);
  }

  private metadataOf(r: Record<string, unknown>): Record<string, string> | undefined {
    let out: Record<string, string> | undefined;
    for (const k in r) {
      if (this.skipMeta.has(k)) continue;
      const v = r[k];
      if (v === undefined || v === null) continue;
      (out ??= {})[k] = stringify(v);
    }
    return out;
  }
}

/** What a field whose value cannot be re-serialised becomes (see stringify). */
export const TOO_DEEP_VALUE = '[nested too deep]';

function stringify(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v !== 'object') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    // JSON.parse takes any depth but JSON.stringify recurses: a ~20 KB line of
    // nested brackets overflows the stack. One hostile line must not crash the
    // process, and the rest of the record is still a valid log line.
    return TOO_DEEP_VALUE;
  }
}
