/**
 * Runs the rule engine on a simulated clock driven by the events' own
 * timestamps: what `replay` prints and what the conformance tests check.
 * Between events the clock advances in timer ticks, exactly as the live
 * engine's timer would, so `for`, expiry and resolution happen at the same
 * instants they would have live.
 */
import type { LogEvent } from '../log-event.js';
import type { AlertChange } from './alert.js';
import { RuleEngine } from './engine.js';
import type { RuleSet } from './rule-file.js';
import type { EvidenceConfig } from './evidence.js';

export interface SimulationOptions {
  tickMs?: number;
  resolvedRetentionMs?: number;
  externalLabels?: Record<string, string>;
  externalUrl?: string;
  /** Keep ticking this long after the last event (default: longest range + longest for + 1 tick). */
  tailMs?: number;
  /** `rules.evidence.*` (issue #18); default off. */
  evidence?: EvidenceConfig;
}

export class Simulation {
  readonly engine: RuleEngine;
  readonly changes: AlertChange[] = [];
  private clock: number;
  private nextTick: number;
  private readonly tickMs: number;

  constructor(rules: RuleSet, startMs: number, opts: SimulationOptions = {}) {
    this.tickMs = opts.tickMs ?? 1000;
    this.clock = startMs;
    this.nextTick = Math.ceil(startMs / this.tickMs) * this.tickMs;
    this.engine = new RuleEngine({
      tickMs: this.tickMs,
      resolvedRetentionMs: opts.resolvedRetentionMs ?? 15 * 60_000,
      externalLabels: opts.externalLabels ?? {},
      externalUrl: opts.externalUrl ?? '',
      now: () => this.clock,
      autoFlush: false,
      evidence: opts.evidence,
    });
    this.engine.load(rules);
    this.engine.onAlert((c) => this.changes.push(c));
  }

  get now(): number {
    return this.clock;
  }

  /** Advance the clock to `ms`, firing every timer tick on the way. */
  advanceTo(ms: number): void {
    while (this.nextTick <= ms) {
      this.clock = this.nextTick;
      this.engine.tick();
      this.nextTick += this.tickMs;
    }
    if (ms > this.clock) this.clock = ms;
  }

  /** Deliver one event at its own time (or now, if it is older than the clock). */
  ingest(ev: LogEvent): void {
    this.advanceTo(ev.timeMs);
    this.engine.ingest(ev);
    this.engine.flush();
  }

  /** Tick on after the last event so that pending, expiry and resolution play out. */
  finish(tailMs?: number): void {
    const rules = this.engine.loadedRules();
    const longest = rules.reduce((m, r) => Math.max(m, r.source.rangeMs + (r.def.kind === 'alert' ? r.def.forMs + r.def.keepFiringForMs : 0)), 0);
    this.advanceTo(this.clock + (tailMs ?? longest + this.tickMs));
  }
}

/** Convenience: run a whole list of events and return every alert change. */
export function simulate(rules: RuleSet, events: readonly LogEvent[], opts: SimulationOptions = {}): AlertChange[] {
  if (events.length === 0) return [];
  const sim = new Simulation(rules, events[0]!.timeMs, opts);
  for (const ev of events) sim.ingest(ev);
  sim.finish(opts.tailMs);
  return sim.changes;
}
