/** Scripted timelines for the rule engine: events at event times, alert sets at instants. */
import { LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { parseRuleFile } from '../../src/rules/load.js';
import type { RuleSet } from '../../src/rules/rule-file.js';
import { Simulation } from '../../src/rules/simulate.js';
import { AlertState } from '../../src/rules/alert.js';

const sets = new LabelSetCache();

export const T0 = Date.UTC(2026, 1, 27, 3, 0, 0);

export function ev(atMs: number, line: string, labels: Record<string, string> = {}, nsRem = 0): LogEvent {
  const stream = sets.intern({ job: 'talos-kernel', host: '10.0.0.5', talos_service: 'kernel', level: 'error', ...labels });
  return { timeMs: atMs, timeNsRem: nsRem, receivedMs: atMs, line, stream, metadata: undefined, source: 'kernel' };
}

export function rulesFromYaml(yaml: string, file = 'test.yaml'): RuleSet {
  const r = parseRuleFile(file, yaml, { unsupported: 'error' });
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return { groups: r.groups, skipped: r.skipped, files: [file] };
}

/** One alerting rule in a group, as YAML. */
export function oneRule(expr: string, extra = ''): RuleSet {
  return rulesFromYaml(`groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ${JSON.stringify(expr)}\n${extra}`);
}

/** Alerts visible at this instant: "alertname{k=v,...}=state", sorted (retained resolved ones included as inactive). */
export function alertSet(sim: Simulation, includeInactive = false): string[] {
  return sim.engine
    .alerts()
    .filter(({ alert }) => includeInactive || alert.state !== AlertState.Inactive)
    .map(({ alert }) => {
      const { alertname, ...rest } = alert.labels;
      const l = Object.keys(rest)
        .sort()
        .map((k) => `${k}=${rest[k]}`)
        .join(',');
      return `${alertname}{${l}}=${alert.state}`;
    })
    .sort();
}

/**
 * Run a timeline: events are delivered at their own times; at each checkpoint
 * the alert set is recorded. Returns the recorded sets by checkpoint.
 */
export function runTimeline(rules: RuleSet, events: LogEvent[], checkpoints: number[], startMs = T0): Map<number, string[]> {
  const sim = new Simulation(rules, startMs, { tickMs: 1000 });
  const out = new Map<number, string[]>();
  const sorted = [...events].sort((a, b) => a.timeMs - b.timeMs);
  const cps = [...checkpoints].sort((a, b) => a - b);
  let ei = 0;
  for (const cp of cps) {
    for (; ei < sorted.length && sorted[ei]!.timeMs <= cp; ei++) sim.ingest(sorted[ei]!);
    sim.advanceTo(cp);
    out.set(cp, alertSet(sim));
  }
  return out;
}
