/**
 * Evidence: the log lines behind an alert (issue #18). The Loki ruler only
 * sees numbers; the sidecar holds each matching line when it counts it, so
 * it keeps the most recent few and hands them to the alert they fired.
 *
 * Memory bound, whatever the match rate: per rule, per leg (range
 * aggregation), per series of that leg, one ring of K = `max_lines` slots.
 * A slot holds a reference to the event's line string and its interned
 * stream labels (objects the event already has) plus its time in a
 * preallocated Float64Array, so recording a line allocates nothing once the
 * series' ring exists. A ring is freed when its newest line leaves the
 * leg's window, and a rule keeps at most MAX_EVIDENCE_SERIES rings per leg.
 * Bound: rules × legs × min(series, MAX_EVIDENCE_SERIES) × K × (line length
 * ≤ ingest.max_line_bytes). Lines are truncated to `max_line_bytes` only
 * when an alert is built, never on the hot path.
 *
 * Which lines belong to which alert: a line contributes to an alert when the
 * alert's sample labels (the expression's result, before the rule's own
 * `labels:`) agree with the line's labels — the series labels its leg put it
 * in (stream labels plus what the pipeline extracted), then its stream labels
 * — on every label both have. `sum(…)` has no labels, so every contributing
 * line agrees; `sum by (host)` keeps that host's lines only.
 */
import { labelsKey, type LogEvent } from '../log-event.js';

/** One line as an alert carries it (state file, API, templates). */
export interface EvidenceLine {
  /** Event time, ms since the epoch. */
  readonly timeMs: number;
  /** The line, truncated to `max_line_bytes` with a marker saying how much was cut. */
  readonly line: string;
  /** The line's stream labels. */
  readonly labels: Readonly<Record<string, string>>;
}

export interface EvidenceOptions {
  /** Lines kept per series and carried per alert (K); 0 turns evidence off. */
  maxLines: number;
  /** Longest line carried, in UTF-8 bytes, before the truncation marker. */
  maxLineBytes: number;
}

/** Rings per rule leg beyond which new series keep no evidence (counted). */
export const MAX_EVIDENCE_SERIES = 5000;

type Labels = Readonly<Record<string, string>>;

/** The K most recent lines of one series, overwritten in place. */
class Ring {
  readonly times: Float64Array;
  readonly lines: string[];
  readonly labels: Labels[];
  next = 0;
  size = 0;
  newestMs = -Infinity;

  constructor(
    readonly seriesLabels: Labels,
    k: number,
    /** The leg's window (range + offset), ms. */
    readonly windowMs: number,
  ) {
    this.times = new Float64Array(k);
    this.lines = new Array<string>(k).fill('');
    this.labels = new Array<Labels>(k).fill(seriesLabels);
  }

  push(timeMs: number, line: string, labels: Labels): void {
    const i = this.next;
    this.times[i] = timeMs;
    this.lines[i] = line;
    this.labels[i] = labels;
    this.next = i + 1 === this.times.length ? 0 : i + 1;
    if (this.size < this.times.length) this.size++;
    if (timeMs > this.newestMs) this.newestMs = timeMs;
  }
}

/** Evidence of one alerting rule: rings per leg and series. */
export class EvidenceStore {
  private readonly legs: Array<Map<string, Ring>>;
  /** Lines not kept because the leg already held MAX_EVIDENCE_SERIES rings. */
  seriesRefused = 0;
  /** Bumped when a ring is freed: the lookup index below is then rebuilt (a new ring is added to it in place). */
  private version = 0;
  private indexVersion = -1;
  /**
   * Rings by the values of a set of label names (a rule's alerts mostly share
   * one name set, e.g. `host`), so finding an alert's rings costs its own
   * rings, not all of them. `loose`: rings whose series labels lack one of
   * the names, checked line by line.
   */
  private readonly index = new Map<string, RingIndex>();

  constructor(
    /** How far back each leg looks (range + offset), ms. */
    private readonly windowMs: readonly number[],
    readonly opts: EvidenceOptions,
  ) {
    this.legs = windowMs.map(() => new Map<string, Ring>());
  }

  /**
   * Keep a line that leg `leg` stored into the series `seriesKey` with labels
   * `seriesLabels` (for a plain selector, the stream itself).
   */
  record(leg: number, ev: LogEvent, seriesKey: string, seriesLabels: Labels): void {
    const rings = this.legs[leg];
    if (rings === undefined) return;
    let r = rings.get(seriesKey);
    if (r === undefined) {
      if (rings.size >= MAX_EVIDENCE_SERIES) {
        this.seriesRefused++;
        return;
      }
      r = new Ring(seriesLabels, this.opts.maxLines, this.windowMs[leg]!);
      rings.set(seriesKey, r);
      // Rebuilding every index for each new series made a new alert's first lookup O(series).
      if (this.indexVersion === this.version) for (const idx of this.index.values()) addToIndex(idx, r);
    }
    r.push(ev.timeMs, ev.line, ev.stream.labels);
  }

  /** Free the rings whose newest line left their leg's window at `tMs`. */
  sweep(tMs: number): void {
    for (let leg = 0; leg < this.legs.length; leg++) {
      const from = tMs - this.windowMs[leg]!;
      for (const [key, r] of this.legs[leg]!) {
        if (r.newestMs > from) continue;
        this.legs[leg]!.delete(key);
        this.version++;
      }
    }
  }

  /** Rings held (for the memory figure and tests). */
  get seriesCount(): number {
    let n = 0;
    for (const m of this.legs) n += m.size;
    return n;
  }

  /**
   * The most recent lines (newest last, at most K) inside the window at `tMs`
   * whose labels agree with `sampleLabels`, truncated for the alert.
   */
  linesFor(sampleLabels: Labels, tMs: number): EvidenceLine[] {
    const k = this.opts.maxLines;
    // Best K so far, kept sorted by time ascending; small K makes insertion cheap.
    const times: number[] = [];
    const picked: Array<{ r: Ring; i: number }> = [];
    const names = Object.keys(sampleLabels).filter((n) => n !== '__name__').sort();
    const idx = this.indexFor(names);
    const exact = idx.byValues.get(valuesKey(names, sampleLabels)) ?? [];
    for (const candidates of [exact, idx.loose]) {
      for (const r of candidates) {
        const from = tMs - r.windowMs;
        if (r.newestMs <= from || !agrees(sampleLabels, r.seriesLabels, undefined)) continue;
        // Oldest to newest, so lines with equal times keep their arrival order.
        const cap = r.times.length;
        for (let n = 0, i = (r.next - r.size + cap) % cap; n < r.size; n++, i = i + 1 === cap ? 0 : i + 1) {
          const t = r.times[i]!;
          if (t <= from || t > tMs) continue;
          if (times.length === k && t < times[0]!) continue;
          if (!agrees(sampleLabels, r.seriesLabels, r.labels[i]!)) continue;
          // A line several legs stored (e.g. errors / all lines) is one line.
          if (picked.some((p) => p.r.times[p.i] === t && p.r.lines[p.i] === r.lines[i] && p.r.labels[p.i] === r.labels[i])) continue;
          let at = times.length;
          while (at > 0 && times[at - 1]! > t) at--;
          times.splice(at, 0, t);
          picked.splice(at, 0, { r, i });
          if (times.length > k) {
            times.shift();
            picked.shift();
          }
        }
      }
    }
    return picked.map(({ r, i }) => ({ timeMs: r.times[i]!, line: truncateLine(r.lines[i]!, this.opts.maxLineBytes), labels: r.labels[i]! }));
  }

  /**
   * linesFor, topped up with the alert's previous lines that are older than
   * every line found and still inside the longest window: after a restart the
   * rings start empty while the alert kept the lines that fired it.
   */
  refresh(previous: readonly EvidenceLine[] | undefined, sampleLabels: Labels, tMs: number): EvidenceLine[] {
    const next = this.linesFor(sampleLabels, tMs);
    if (previous === undefined || previous.length === 0 || next.length >= this.opts.maxLines) return next;
    const oldest = next.length > 0 ? next[0]!.timeMs : Infinity;
    const from = tMs - Math.max(...this.windowMs);
    const older = previous.filter((l) => l.timeMs > from && l.timeMs < oldest);
    return [...older.slice(Math.max(0, older.length - (this.opts.maxLines - next.length))), ...next];
  }

  private indexFor(names: readonly string[]): RingIndex {
    if (this.indexVersion !== this.version) {
      this.index.clear();
      this.indexVersion = this.version;
    }
    const sig = names.join('\u0000');
    let idx = this.index.get(sig);
    if (idx !== undefined) return idx;
    idx = { names, byValues: new Map(), loose: [] };
    for (const rings of this.legs) for (const r of rings.values()) addToIndex(idx, r);
    // A handful of name sets per rule at most; a pathological rule cannot grow this without bound.
    if (this.index.size > 16) this.index.clear();
    this.index.set(sig, idx);
    return idx;
  }
}

/** Rings by their values of `names`; `loose`: rings lacking one of the names. */
interface RingIndex {
  readonly names: readonly string[];
  readonly byValues: Map<string, Ring[]>;
  readonly loose: Ring[];
}

function addToIndex(idx: RingIndex, r: Ring): void {
  const { names } = idx;
  if (!names.every((n) => r.seriesLabels[n] !== undefined)) {
    idx.loose.push(r);
    return;
  }
  const key = valuesKey(names, r.seriesLabels);
  const list = idx.byValues.get(key);
  if (list === undefined) idx.byValues.set(key, [r]);
  else list.push(r);
}

function valuesKey(names: readonly string[], labels: Labels): string {
  let k = '';
  for (const n of names) k += `${labels[n]}\u0001`;
  return k;
}

/**
 * Do the sample's labels agree with a line's labels on every name both have?
 * The series labels (what the pipeline produced) speak first; a name they do
 * not have is looked up in the line's stream labels.
 */
function agrees(sample: Labels, series: Labels, stream: Labels | undefined): boolean {
  for (const name in sample) {
    if (name === '__name__') continue;
    const v = series[name] ?? stream?.[name];
    if (v !== undefined && v !== sample[name]) return false;
  }
  return true;
}

/**
 * `line` cut to at most `maxBytes` UTF-8 bytes (never inside a character),
 * followed by ` …[+N bytes]` saying how many bytes were cut.
 */
export function truncateLine(line: string, maxBytes: number): string {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short lines need no counting.
  if (line.length * 3 <= maxBytes) return line;
  const total = Buffer.byteLength(line);
  if (total <= maxBytes) return line;
  let bytes = 0;
  let i = 0;
  while (i < line.length) {
    const c = line.codePointAt(i)!;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (bytes + n > maxBytes) break;
    bytes += n;
    i += c >= 0x10000 ? 2 : 1;
  }
  return `${line.slice(0, i)} …[+${total - bytes} bytes]`;
}

/**
 * Evidence arrays are replaced, never changed, when an alert's lines are
 * re-read: their text is made once per array, not at every re-render of the
 * alert's annotations (each moved value re-renders them; rebuilding this
 * block every time churned strings that outlived the young generation).
 */
const evidenceTextCache = new WeakMap<readonly EvidenceLine[], string>();

/** The evidence as one text block: `<RFC 3339 time> <stream labels> <line>` per line, oldest first. */
export function formatEvidence(lines: readonly EvidenceLine[]): string {
  let text = evidenceTextCache.get(lines);
  if (text === undefined) {
    text = evidenceText(lines);
    evidenceTextCache.set(lines, text);
  }
  return text;
}

function evidenceText(lines: readonly EvidenceLine[]): string {
  let out = '';
  for (const l of lines) {
    if (out !== '') out += '\n';
    out += `${new Date(l.timeMs).toISOString()} ${labelsText(l.labels)} ${l.line}`;
  }
  return out;
}


/** Stream labels are interned (one object per stream): their text is made once. */
const labelsTextCache = new WeakMap<Labels, string>();

function labelsText(labels: Labels): string {
  let t = labelsTextCache.get(labels);
  if (t === undefined) {
    t = labelsKey(labels);
    labelsTextCache.set(labels, t);
  }
  return t;
}

/** The evidence as the API shows it: RFC 3339 times. */
export function evidenceJson(lines: readonly EvidenceLine[] | undefined): Array<{ time: string; line: string; labels: Labels }> {
  return (lines ?? []).map((l) => ({ time: new Date(l.timeMs).toISOString(), line: l.line, labels: l.labels }));
}

/** What the engine knows of a leg when it stored a line (range-source.ts). */
interface StoringLeg {
  readonly piped: boolean;
  readonly lastSeriesKey: string;
  readonly lastSeriesLabels: Labels;
}

/** Engine hook: keep `ev`, just stored by `src` (leg `leg`), as evidence. */
export function recordEvidence(store: EvidenceStore, leg: number, src: StoringLeg, ev: LogEvent): void {
  if (src.piped) store.record(leg, ev, src.lastSeriesKey, src.lastSeriesLabels);
  else store.record(leg, ev, ev.stream.key, ev.stream.labels);
}

/** `rules.evidence.*` as the engine needs it. */
export interface EvidenceConfig extends EvidenceOptions {
  /** Name of the annotation added to every alert with its lines; empty: none. */
  annotation: string;
}

/** A store for an alerting rule with these legs, or undefined when evidence is off or the rule records. */
export function evidenceStoreFor(
  kind: 'alert' | 'record',
  legs: { readonly sources: ReadonlyArray<{ readonly slots: number; readonly stepMs: number }> },
  cfg: EvidenceConfig | undefined,
): EvidenceStore | undefined {
  if (kind !== 'alert' || cfg === undefined || cfg.maxLines <= 0) return undefined;
  return new EvidenceStore(
    legs.sources.map((s) => s.slots * s.stepMs),
    cfg,
  );
}

/** State-file check of an alert's `evidence` (what restoreAlerts will carry back). */
export function validEvidence(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const l of v as unknown[]) {
    if (l === null || typeof l !== 'object') return false;
    const e = l as Record<string, unknown>;
    if (typeof e.timeMs !== 'number' || typeof e.line !== 'string' || e.labels === null || typeof e.labels !== 'object') return false;
    for (const x of Object.values(e.labels as object)) if (typeof x !== 'string') return false;
  }
  return true;
}
