/**
 * `replay`: backtest rules on a simulated clock driven by the events' own
 * timestamps, and print the alert timeline. Two sources of history:
 * a capture (Talos json_lines as received, or the text output of
 * `talosctl dmesg` / `talosctl logs SERVICE`; bad lines are reported with
 * their line numbers, replay never stops at the first one), or the lines
 * Loki already holds (`--loki-url`, src/replay/loki-replay.ts).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config/load.js';
import { defaultConfig, type Config } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { loadRuleSet } from '../rules/load.js';
import type { RuleSet } from '../rules/rule-file.js';
import { TalosDecoder } from '../talos/decode.js';
import { captureRecordToTalosJson, detectCaptureFormat, parseTextCapture, type CaptureFormat } from '../talos/text-capture.js';
import { LokiQueryClient } from '../replay/loki-query-client.js';
import { replayFromLoki } from '../replay/loki-replay.js';
import { ProgressBar } from '../replay/progress.js';
import { resolveTimeRange } from '../replay/time-range.js';
import { formatTimelineText, TimelineRecorder, type ReplayEntry } from '../replay/timeline.js';
import { enumFlag, stringFlag, stringsFlag, UsageError, type CommandArgs } from './args.js';

export type { ReplayEntry, EvidenceLine } from '../replay/timeline.js';

export interface ReplayResult {
  format: CaptureFormat;
  lines: number;
  events: number;
  bad: Array<{ lineNo: number; reason: string }>;
  timeline: ReplayEntry[];
}

/** Replay a capture's lines through the rules. Pure apart from the rules it was given. */
export function replayLines(lines: readonly string[], rules: RuleSet, opts: { host?: string; service?: string; tickMs?: number } = {}): ReplayResult {
  const format = detectCaptureFormat(lines.slice(0, 20));
  const decoder = new TalosDecoder({
    job: 'talos-kernel',
    lineFormat: 'msg',
    hostNames: {},
    hostField: 'node-name', // as `run` does by default (Talos extraTags)
    labelFields: [],
    staticLabels: {},
    // A capture is history: never clamp its timestamps to the wall clock.
    futureToleranceMs: Number.MAX_SAFE_INTEGER / 2,
    metadata: true, // rules read structured metadata as Loki 3 does
  });
  const bad: ReplayResult['bad'] = [];
  let rec: TimelineRecorder | undefined;
  let clock = 0;
  const feed = (json: string, host: string, lineNo: number): void => {
    const ev = decoder.decode(json, host, clock);
    if (typeof ev === 'string') {
      bad.push({ lineNo, reason: ev });
      return;
    }
    rec ??= new TimelineRecorder(rules, ev.timeMs, { tickMs: opts.tickMs ?? 1000 });
    clock = Math.max(clock, ev.timeMs);
    rec.ingest(ev);
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
  rec?.finish();
  return { format, lines: lines.length, events: rec?.events ?? 0, bad, timeline: rec?.timeline ?? [] };
}

async function readAll(file: string): Promise<string[]> {
  const input = file === '-' ? process.stdin : createReadStream(file, 'utf8');
  const rl = createInterface({ input, crlfDelay: Infinity });
  const lines: string[] = [];
  for await (const line of rl) lines.push(line);
  return lines;
}

/** The loki.* settings for `--loki-url` mode: the config file's, then the flags. */
export function lokiSettings(args: CommandArgs): { loki: Config['loki']; rules: Config['rules'] } {
  const file = stringFlag(args, 'config');
  const cfg = file === undefined ? defaultConfig() : loadConfig(new Map([['--config', [file]]]));
  const loki = cfg.loki;
  const url = stringFlag(args, 'loki-url');
  if (url !== undefined) loki.url = url;
  if (loki.url === '') throw new UsageError('no Loki URL: give --loki-url or a --config file with loki.url');
  const tenant = stringFlag(args, 'tenant');
  if (tenant !== undefined) loki.tenant = tenant;
  const token = stringFlag(args, 'bearer-token-file');
  const user = stringFlag(args, 'basic-auth-user');
  const passFile = stringFlag(args, 'basic-auth-password-file');
  if (token !== undefined && (user !== undefined || passFile !== undefined)) throw new UsageError('give either --bearer-token-file or basic auth, not both');
  if (token !== undefined) {
    // A flag replaces the config file's credentials of either kind.
    Object.assign(loki, { bearerTokenFile: token, bearerToken: '', basicAuthUsername: '', basicAuthPassword: '', basicAuthPasswordFile: '' });
  } else if (user !== undefined || passFile !== undefined) {
    Object.assign(loki, { bearerTokenFile: '', bearerToken: '', basicAuthUsername: user ?? '', basicAuthPassword: '', basicAuthPasswordFile: passFile ?? '' });
  }
  return { loki, rules: cfg.rules };
}

function positiveInt(args: CommandArgs, name: string, fallback: number): number {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`flag --${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

function duration(args: CommandArgs, name: string, fallback: number): number {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch (e) {
    throw new UsageError(`flag --${name}: ${(e as Error).message}`);
  }
  if (ms <= 0) throw new UsageError(`flag --${name}: must be positive`);
  return ms;
}

/** Loki's max_query_length default (30d1h): the longest chunk a default Loki accepts. */
const DEFAULT_CHUNK_MS = 721 * 3600_000;

async function replayLokiCommand(args: CommandArgs, output: 'text' | 'json'): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError('a capture FILE and --loki-url exclude each other');
  const { loki, rules: rulesCfg } = lokiSettings(args);
  const paths = stringsFlag(args, 'rules') ?? (stringFlag(args, 'config') !== undefined ? rulesCfg.paths : ['./rules']);
  const unsupported = enumFlag(args, 'unsupported-rules', ['error', 'skip'], rulesCfg.unsupported);
  let range;
  try {
    range = resolveTimeRange({ since: stringFlag(args, 'since') ?? (stringFlag(args, 'from') === undefined ? '24h' : undefined), from: stringFlag(args, 'from'), to: stringFlag(args, 'to') }, Date.now());
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const limit = positiveInt(args, 'limit', 5000);
  const chunkMs = duration(args, 'chunk', DEFAULT_CHUNK_MS);
  const rules = await loadRuleSet(paths, { unsupported });
  const client = new LokiQueryClient({ loki, timeoutMs: Math.max(loki.timeoutMs, 60_000), minBackoffMs: loki.minBackoffMs, maxBackoffMs: loki.maxBackoffMs, maxRetries: positiveInt(args, 'max-retries', 5) });
  const bar = new ProgressBar(process.stderr, range.fromMs, range.toMs);
  try {
    const r = await replayFromLoki(client, rules, {
      ...range, limit, chunkMs, tickMs: rulesCfg.tickMs,
      onPage: (n) => bar.fetched(n),
      onChunk: (t) => bar.covered(t),
    });
    bar.done();
    const from = new Date(range.fromMs).toISOString();
    const to = new Date(range.toMs).toISOString();
    if (output === 'json') {
      process.stdout.write(`${JSON.stringify({
        source: 'loki', from, to,
        queries: r.queries.map((q) => ({ logql: q.logql, rules: q.rules })),
        requests: r.stats.requests, fetched: r.stats.fetched, duplicates: r.stats.duplicates, events: r.events,
        timeline: r.timeline,
      }, null, 2)}\n`);
    } else {
      process.stdout.write(`# ${r.events} lines from ${client.endpoint}, ${from} .. ${to}, ${r.stats.requests} requests, ${r.timeline.length} alert changes\n`);
      for (const q of r.queries) process.stdout.write(`# query ${q.logql}  (${q.rules.join(', ')})\n`);
      process.stdout.write(formatTimelineText(r.timeline));
    }
    return 0;
  } catch (e) {
    bar.done();
    process.stderr.write(`replay: ${(e as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

export async function replayCommand(args: CommandArgs): Promise<number> {
  const output = enumFlag(args, 'output', ['text', 'json'], 'text');
  if (stringFlag(args, 'loki-url') !== undefined || stringFlag(args, 'config') !== undefined) return replayLokiCommand(args, output);
  for (const f of ['since', 'from', 'to', 'tenant', 'limit', 'chunk']) {
    if (stringFlag(args, f) !== undefined) throw new UsageError(`flag --${f} needs --loki-url (or --config with loki.url)`);
  }
  const paths = stringsFlag(args, 'rules') ?? ['./rules'];
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
    process.stdout.write(formatTimelineText(result.timeline));
  }
  return 0;
}
