/**
 * The alert timeline of a backtest: every pending, firing and resolved
 * change of every alert, with its value and the evidence — the line that
 * made the series appear (or fire, for `for: 0`). Wraps the engine's
 * Simulation, so capture replay and Loki replay share one code path and
 * print the same timeline for the same lines.
 *
 * Evidence is exact, not guessed: Simulation evaluates the touched rules
 * right after each event, so a change emitted then was caused by that event;
 * a change at a timer tick (`for` elapsed) carries the evidence of the
 * alert's pending change.
 */
import type { LogEvent } from '../log-event.js';
import { alertKey, type AlertChange } from '../rules/alert.js';
import type { RuleSet } from '../rules/rule-file.js';
import { Simulation, type SimulationOptions } from '../rules/simulate.js';

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

/** Evidence lines kept per alert. */
const MAX_EVIDENCE = 3;

function evidenceOf(ev: LogEvent): EvidenceLine {
  return { time: new Date(ev.timeMs).toISOString(), labels: { ...ev.stream.labels }, line: ev.line };
}

export class TimelineRecorder {
  readonly sim: Simulation;
  readonly timeline: ReplayEntry[] = [];
  events = 0;
  /** Evidence of active alerts, by rule + alert labels. */
  private readonly evidence = new Map<string, EvidenceLine[]>();
  private seen = 0;

  constructor(rules: RuleSet, startMs: number, opts: SimulationOptions = {}) {
    this.sim = new Simulation(rules, startMs, opts);
  }

  ingest(ev: LogEvent): void {
    this.sim.advanceTo(ev.timeMs);
    this.collect(undefined);
    this.sim.ingest(ev);
    this.events++;
    this.collect(ev);
  }

  /** Tick on to `ms` (end of the known history). */
  advanceTo(ms: number): void {
    this.sim.advanceTo(ms);
    this.collect(undefined);
  }

  /** Tick on past the last event until every window has drained (capture replay). */
  finish(tailMs?: number): void {
    this.sim.finish(tailMs);
    this.collect(undefined);
  }

  private collect(cause: LogEvent | undefined): void {
    const changes = this.sim.changes;
    const causeLine = cause === undefined || this.seen === changes.length ? undefined : evidenceOf(cause);
    for (; this.seen < changes.length; this.seen++) {
      const c = changes[this.seen]!;
      const key = `${c.rule.file}\u0000${c.rule.group}\u0000${c.rule.name}\u0000${alertKey(c.alert.labels)}`;
      if (c.kind === 'removed' || c.kind === 'resolved') {
        this.evidence.delete(key);
        if (c.kind === 'removed') continue;
      }
      let ev: EvidenceLine[] = [];
      if (c.kind !== 'resolved') {
        ev = this.evidence.get(key) ?? [];
        // One evaluation may emit pending and firing together: one cause, listed once.
        if (causeLine !== undefined && ev.length < MAX_EVIDENCE && !ev.includes(causeLine)) ev = [...ev, causeLine];
        this.evidence.set(key, ev);
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

function toEntry(c: ShownChange, evidence: EvidenceLine[]): ReplayEntry {
  const { alertname = '', ...labels } = c.alert.labels;
  return { time: new Date(c.atMs).toISOString(), state: c.kind, alertname, labels, value: c.alert.value, evidence };
}

function formatLabels(labels: Record<string, string>): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

/** Human form: one line per change, its evidence indented under it. */
export function formatTimelineText(timeline: readonly ReplayEntry[]): string {
  let out = '';
  for (const e of timeline) {
    out += `${e.time}  ${e.state.padEnd(8)} ${e.alertname} ${formatLabels(e.labels)} value=${e.value}\n`;
    if (e.state === 'resolved') continue;
    for (const l of e.evidence) out += `    ${l.time} ${formatLabels(l.labels)} ${l.line}\n`;
  }
  return out;
}
