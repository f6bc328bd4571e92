/**
 * `replay`: backtest rules on a capture, on a simulated clock driven by the
 * events' own timestamps. Inputs: Talos json_lines as received, or the text
 * output of `talosctl dmesg` / `talosctl logs SERVICE`. Bad lines are reported
 * with their line numbers; replay never stops at the first one.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadRuleSet } from '../rules/load.js';
import { Simulation } from '../rules/simulate.js';
import type { AlertChange } from '../rules/alert.js';
import { TalosDecoder } from '../talos/decode.js';
import { captureRecordToTalosJson, detectCaptureFormat, parseTextCapture, type CaptureFormat } from '../talos/text-capture.js';
import { enumFlag, stringFlag, stringsFlag, type CommandArgs } from './args.js';

export interface ReplayEntry {
  time: string;
  state: 'pending' | 'firing' | 'resolved';
  alertname: string;
  labels: Record<string, string>;
  value: number;
}

export interface ReplayResult {
  format: CaptureFormat;
  lines: number;
  events: number;
  bad: Array<{ lineNo: number; reason: string }>;
  timeline: ReplayEntry[];
}

/** Replay a capture's lines through the rules. Pure apart from the rules it was given. */
export function replayLines(
  lines: readonly string[],
  rules: Awaited<ReturnType<typeof loadRuleSet>>,
  opts: { host?: string; service?: string; tickMs?: number } = {},
): ReplayResult {
  const format = detectCaptureFormat(lines.slice(0, 20));
  const decoder = new TalosDecoder({
    job: 'talos-kernel',
    lineFormat: 'msg',
    hostNames: {},
    labelFields: [],
    staticLabels: {},
    // A capture is history: never clamp its timestamps to the wall clock.
    futureToleranceMs: Number.MAX_SAFE_INTEGER / 2,
    metadata: true, // rules read structured metadata as Loki 3 does
  });
  const bad: ReplayResult['bad'] = [];
  let sim: Simulation | undefined;
  let events = 0;
  let clock = 0;
  const feed = (json: string, host: string, lineNo: number): void => {
    const ev = decoder.decode(json, host, clock);
    if (typeof ev === 'string') {
      bad.push({ lineNo, reason: ev });
      return;
    }
    sim ??= new Simulation(rules, ev.timeMs, { tickMs: opts.tickMs ?? 1000 });
    clock = Math.max(clock, ev.timeMs);
    sim.ingest(ev);
    events++;
  };
  const host = opts.host ?? 'replay';
  if (format === 'json_lines') {
    lines.forEach((raw, i) => {
      if (raw.trim() !== '') feed(raw, host, i + 1);
    });
  } else {
    // Text captures are parsed statefully: dmesg prints ` KEY=value` continuation
    // lines, and machined's plain lines take the previous record's time.
    let lineNo = 0;
    for (const r of parseTextCapture(lines, { format, service: opts.service })) {
      if (!r.ok) {
        bad.push({ lineNo: r.lineNo, reason: r.reason });
        continue;
      }
      lineNo++;
      feed(captureRecordToTalosJson(r.record), r.record.node ?? host, lineNo);
    }
  }
  sim?.finish();
  const timeline = (sim?.changes ?? []).filter((c): c is AlertChange & { kind: ReplayEntry['state'] } => c.kind !== 'removed').map(toEntry);
  return { format, lines: lines.length, events, bad, timeline };
}

function toEntry(c: AlertChange & { kind: ReplayEntry['state'] }): ReplayEntry {
  const { alertname = '', ...labels } = c.alert.labels;
  return { time: new Date(c.atMs).toISOString(), state: c.kind, alertname, labels, value: c.alert.value };
}

async function readAll(file: string): Promise<string[]> {
  const input = file === '-' ? process.stdin : createReadStream(file, 'utf8');
  const rl = createInterface({ input, crlfDelay: Infinity });
  const lines: string[] = [];
  for await (const line of rl) lines.push(line);
  return lines;
}

export async function replayCommand(args: CommandArgs): Promise<number> {
  const paths = stringsFlag(args, 'rules') ?? ['./rules'];
  const output = enumFlag(args, 'output', ['text', 'json'], 'text');
  const rules = await loadRuleSet(paths, { unsupported: enumFlag(args, 'unsupported-rules', ['error', 'skip'], 'error') });
  const result = replayLines(await readAll(args.positionals[0] ?? '-'), rules, {
    host: stringFlag(args, 'host'),
    service: stringFlag(args, 'service'),
  });
  for (const b of result.bad) process.stderr.write(`line ${b.lineNo}: ${b.reason}\n`);
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify({ format: result.format, events: result.events, badLines: result.bad.length, timeline: result.timeline }, null, 2)}\n`);
  } else {
    process.stdout.write(`# ${result.events} events from ${result.format}, ${result.bad.length} bad lines, ${result.timeline.length} alert changes\n`);
    for (const e of result.timeline) {
      const labels = Object.entries(e.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
      process.stdout.write(`${e.time}  ${e.state.padEnd(8)} ${e.alertname} {${labels}} value=${e.value}\n`);
    }
  }
  return 0;
}
