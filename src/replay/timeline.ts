/**
 * The alert timeline of a backtest: every pending, firing and resolved
 * change of every alert, with its value and the evidence — the line that
 * made the series appear (or fire, for `for: 0`). Wraps the engine's
 * Simulation, so capture replay and Loki replay share one code path and
 * print the same timeline for the same lines.
 *
 * Evidence: for each rule the last lines that matched its stream selectors
 * and line filters are kept (a few per rule); a pending or firing change
 * shows those within the rule's range at that instant whose stream labels
 * agree with the alert's labels — the lines the window held when the series
 * appeared. A firing change after `for` shows its pending's evidence. Lines
 * a later parser or label filter would drop may be listed too (the selector
 * and line filters are matched here, the rest of the pipeline in the engine).
 */
import type { LogEvent } from '../log-event.js';
import type { LogSelector } from '../logql/ast.js';
import { alertKey, type AlertChange } from '../rules/alert.js';
import type { RuleSet } from '../rules/rule-file.js';
import { SelectorIndex } from '../rules/selector-index.js';
import { Simulation, type SimulationOptions } from '../rules/simulate.js';
import { logSelectorsOf } from './pushdown.js';

export interface EvidenceLine {
  time: string;
  labels: Record<string, string>;
  line: string;
}

export interface ReplayEntry {
  time: string;
  state: 'pending' | 'firing' | 'resolved';
  alertname: string;
  labels: Record<string, string>;
  value: number;
  /** The line(s) that made the series appear; empty for resolutions and for alerts no line caused (absent_over_time). */
  evidence: EvidenceLine[];
}

type ShownChange = AlertChange & { kind: ReplayEntry['state'] };

/** Evidence lines shown per change. */
const MAX_EVIDENCE = 3;
/** Recent matching lines kept per rule (several series may share a rule). */
const RECENT_PER_RULE = 32;

function evidenceOf(ev: LogEvent): EvidenceLine {
  return { time: new Date(ev.timeMs).toISOString(), labels: { ...ev.stream.labels }, line: ev.line };
}

/** Longest range of an expression (walks any node kind, like logSelectorsOf). */
function longestRange(x: unknown, depth = 0): number {
  if (x === null || typeof x !== 'object' || depth > 64) return 0;
  let m = 0;
  for (const [k, v] of Object.entries(x)) {
    if (k === 'rangeMs' && typeof v === 'number') m = Math.max(m, v);
    else if (k !== 'pos') m = Math.max(m, longestRange(v, depth + 1));
  }
  return m;
}

interface RuleTrace {
  rangeMs: number;
  /** Ring of the last matching events. */
  recent: LogEvent[];
  next: number;
}

export class TimelineRecorder {
  readonly sim: Simulation;
  readonly timeline: ReplayEntry[] = [];
  events = 0;
  /** Evidence of pending/firing alerts, by rule + alert labels. */
  private readonly evidence = new Map<string, EvidenceLine[]>();
  private readonly traces = new Map<string, RuleTrace>();
  private readonly index: SelectorIndex;
  private readonly selectorTrace: RuleTrace[] = [];
  private readonly matched: number[] = [];
  private seen = 0;

  constructor(rules: RuleSet, startMs: number, opts: SimulationOptions = {}) {
    this.sim = new Simulation(rules, startMs, opts);
    const selectors: LogSelector[] = [];
    for (const g of rules.groups) {
      for (const r of g.rules) {
        const trace: RuleTrace = { rangeMs: longestRange(r.expr), recent: [], next: 0 };
        this.traces.set(ruleKey(r.file, g.name, r.name), trace);
        for (const sel of logSelectorsOf(r.expr)) {
          selectors.push(sel);
          this.selectorTrace.push(trace);
        }
      }
    }
    this.index = new SelectorIndex(selectors);
  }

  ingest(ev: LogEvent): void {
    const n = this.index.match(ev, this.matched);
    for (let i = 0; i < n; i++) {
      const t = this.selectorTrace[this.matched[i]!]!;
      if (t.recent.length < RECENT_PER_RULE) t.recent.push(ev);
      else t.recent[t.next] = ev;
      t.next = (t.next + 1) % RECENT_PER_RULE;
    }
    this.sim.advanceTo(ev.timeMs);
    this.collect();
    this.sim.ingest(ev);
    this.events++;
    this.collect();
  }

  /** Tick on to `ms` (end of the known history). */
  advanceTo(ms: number): void {
    this.sim.advanceTo(ms);
    this.collect();
  }

  /** Tick on past the last event until every window has drained (capture replay). */
  finish(tailMs?: number): void {
    this.sim.finish(tailMs);
    this.collect();
  }

  /** Lines of the rule's window at the change that belong to the alert's series. */
  private linesFor(c: AlertChange): EvidenceLine[] {
    const t = this.traces.get(ruleKey(c.rule.file, c.rule.group, c.rule.name));
    if (t === undefined) return [];
    const labels = c.alert.labels;
    const hits = t.recent
      .filter((ev) => ev.timeMs <= c.atMs && ev.timeMs > c.atMs - t.rangeMs && Object.entries(ev.stream.labels).every(([k, v]) => labels[k] === undefined || labels[k] === v))
      .sort((a, b) => a.timeMs - b.timeMs || a.timeNsRem - b.timeNsRem);
    return hits.slice(-MAX_EVIDENCE).map(evidenceOf);
  }

  private collect(): void {
    const changes = this.sim.changes;
    for (; this.seen < changes.length; this.seen++) {
      const c = changes[this.seen]!;
      const key = `${ruleKey(c.rule.file, c.rule.group, c.rule.name)}\u0000${alertKey(c.alert.labels)}`;
      if (c.kind === 'removed' || c.kind === 'resolved') {
        this.evidence.delete(key);
        if (c.kind === 'removed') continue;
      }
      let ev: EvidenceLine[] = [];
      if (c.kind !== 'resolved') {
        ev = this.evidence.get(key) ?? [];
        if (ev.length === 0) this.evidence.set(key, (ev = this.linesFor(c)));
      }
      this.timeline.push(toEntry(c as ShownChange, ev));
    }
    // The simulation's list is only read here; keep it from growing with the history.
    if (this.seen > 1024) {
      changes.splice(0, this.seen);
      this.seen = 0;
    }
  }
}

function ruleKey(file: string, group: string, name: string): string {
  return `${file}\u0000${group}\u0000${name}`;
}

function toEntry(c: ShownChange, evidence: EvidenceLine[]): ReplayEntry {
  const { alertname = '', ...labels } = c.alert.labels;
  return { time: new Date(c.atMs).toISOString(), state: c.kind, alertname, labels, value: c.alert.value, evidence };
}

function formatLabels(labels: Record<string, string>): string {
  // Names sorted (Prometheus text form), so equal label sets print alike.
  return `{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(', ')}}`;
}

/** Human form: one line per change, its evidence indented under it. */
export function formatTimelineText(timeline: readonly ReplayEntry[]): string {
  let out = '';
  // A firing change after `for` shares its pending's evidence: printed once.
  const printed = new Set<readonly EvidenceLine[]>();
  for (const e of timeline) {
    out += `${e.time}  ${e.state.padEnd(8)} ${e.alertname} ${formatLabels(e.labels)} value=${e.value}\n`;
    if (e.state === 'resolved' || printed.has(e.evidence)) continue;
    printed.add(e.evidence);
    for (const l of e.evidence) out += `    ${l.time} ${formatLabels(l.labels)} ${l.line}\n`;
  }
  return out;
}
