/**
 * `replay --loki-url` end to end: a day of generated Talos history with known
 * failure bursts, pushed to a Loki query server as the sidecar forwards it,
 * backtested from Loki. The timeline must equal an independent oracle (the
 * alerting state machine re-derived from the burst lines' own times) and the
 * capture replay of the very same lines.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/log-event.js';
import { replayLines } from '../../src/cli/replay.js';
import { defaultConfig } from '../../src/config/schema.js';
import { LokiQueryClient } from '../../src/replay/loki-query-client.js';
import { replayFromLoki } from '../../src/replay/loki-replay.js';
import { loadRuleSet } from '../../src/rules/load.js';
import type { RuleSet } from '../../src/rules/rule-file.js';
import { TalosDecoder } from '../../src/talos/decode.js';
import { records, type FailureInjection } from '../../src/traffic/index.js';
import { lokiMetadata } from '../../src/sinks/loki/metadata-name.js';
import { startLokiQueryServer, type LokiQueryServer } from '../helpers/loki-query-server.js';

const T0 = Date.UTC(2026, 0, 1);
const H = 3_600_000;
const DAY = 24 * H;
const HOST = 'node-0';

const FAILURES: FailureInjection[] = [
  { atMs: 3 * H, kind: 'nvme-timeout', durationMs: 10 * 60_000 },
  { atMs: 12 * H, kind: 'oom' },
  { atMs: 18 * H, kind: 'conntrack-full', durationMs: 3 * 60_000 },
  // Three timeouts in 70 s: NvmeTimeouts goes pending, and the lines leave the 5m window before its `for: 5m`.
  { atMs: 20 * H, kind: 'nvme-timeout', durationMs: 70_000 },
];

/** The rules, and for each the oracle's view: which lines count, window, threshold, for. */
interface OracleRule {
  alert: string;
  expr: string;
  forMs: number;
  severity: string;
  counts: (ev: LogEvent) => boolean;
  rangeMs: number;
  above: number;
}
const RULES: OracleRule[] = [
  {
    alert: 'NvmeTimeouts', expr: 'sum(count_over_time({job="talos-kernel", talos_service="kernel"} |= "nvme" |~ "timeout, (aborting|reset)" [5m])) > 2',
    forMs: 300_000, severity: 'warning', rangeMs: 300_000, above: 2,
    counts: (ev) => ev.stream.labels.talos_service === 'kernel' && ev.line.includes('nvme') && /timeout, (aborting|reset)/.test(ev.line),
  },
  {
    alert: 'OOMKill', expr: 'sum(count_over_time({job="talos-kernel"} |= "Out of memory: Killed process" [5m])) > 0',
    forMs: 0, severity: 'critical', rangeMs: 300_000, above: 0,
    counts: (ev) => ev.line.includes('Out of memory: Killed process'),
  },
  {
    // Same query as OOMKill: fetched once.
    alert: 'OOMKillLong', expr: 'sum(count_over_time({job="talos-kernel"} |= "Out of memory: Killed process" [30m])) > 0',
    forMs: 600_000, severity: 'info', rangeMs: 1_800_000, above: 0,
    counts: (ev) => ev.line.includes('Out of memory: Killed process'),
  },
  {
    alert: 'ConntrackFull', expr: 'sum(count_over_time({job="talos-kernel"} |= "nf_conntrack" |= "table full" [1m])) > 10',
    forMs: 30_000, severity: 'warning', rangeMs: 60_000, above: 10,
    counts: (ev) => ev.line.includes('nf_conntrack') && ev.line.includes('table full'),
  },
  {
    // No line filter: the whole kernel stream is fetched (and shares entries with the queries above).
    alert: 'KernelFlood', expr: 'sum(count_over_time({talos_service="kernel"} [1m])) > 45',
    forMs: 0, severity: 'info', rangeMs: 60_000, above: 45,
    counts: (ev) => ev.stream.labels.talos_service === 'kernel',
  },
];

const RULES_YAML = `groups:
  - name: backtest
    rules:
${RULES.map((r) => `      - alert: ${r.alert}
        expr: '${r.expr}'
        for: ${r.forMs / 1000}s
        labels:
          severity: ${r.severity}`).join('\n')}
`;

interface Change {
  time: string;
  state: string;
  alertname: string;
  value: number;
}

/**
 * The alerting state machine (Prometheus rules/alerting.go) for
 * `sum(count_over_time(sel[R])) > N` on the engine's documented evaluation
 * grid (src/rules/sliding-window.ts: step g = 1 s for these ranges; a line at
 * ms + ns > 0 sorts after ms): every tick, before a line at the same instant,
 * and every counted line, evaluated at the grid instant at or after it with
 * activeAt stamped at the line's own time.
 */
function oracle(r: OracleRule, events: readonly LogEvent[], startMs: number, endMs: number): Change[] {
  const lines = events.filter(r.counts);
  const bucketOf = (e: LogEvent) => Math.ceil((2 * e.timeMs + (e.timeNsRem > 0 ? 1 : 0)) / 2000);
  const buckets = lines.map(bucketOf);
  const slots = r.rangeMs / 1000;
  const out: Change[] = [];
  let state: 'inactive' | 'pending' | 'firing' = 'inactive';
  let activeAt = 0;
  let lastValue = 0;
  let ingested = 0;
  let lastT = -Infinity;
  let lo = 0;
  const evaluate = (gridT: number, stampMs: number): void => {
    const T = Math.max(lastT, gridT);
    lastT = T;
    const t = T * 1000;
    // T never decreases and lines come in time order: the window's left edge only moves right.
    while (lo < ingested && buckets[lo]! <= T - slots) lo++;
    let v = 0;
    for (let i = lo; i < ingested; i++) if (buckets[i]! <= T) v++;
    const emit = (kind: string, value: number) => out.push({ time: new Date(t).toISOString(), state: kind, alertname: r.alert, value });
    if (v > r.above) {
      lastValue = v;
      if (state === 'inactive') {
        state = 'pending';
        activeAt = stampMs;
        emit('pending', v);
      }
      if (state === 'pending' && t - activeAt >= r.forMs) {
        state = 'firing';
        emit('firing', v);
      }
    } else if (state === 'firing') {
      state = 'inactive';
      emit('resolved', lastValue);
    } else state = 'inactive';
  };
  let tick = Math.ceil(startMs / 1000) * 1000;
  for (let i = 0; i <= lines.length; i++) {
    const at = i < lines.length ? lines[i]!.timeMs : endMs;
    for (; tick <= at; tick += 1000) evaluate(tick / 1000, tick);
    if (i < lines.length) {
      ingested++;
      evaluate(Math.ceil(at / 1000), at);
    }
  }
  return out;
}

describe('replay --loki-url on a day of Talos history', () => {
  let server: LokiQueryServer;
  let rulesFile: string;
  let rules: RuleSet;
  let captureLines: string[];
  let events: LogEvent[];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-replay-loki-'));
    rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, RULES_YAML);
    rules = await loadRuleSet([rulesFile], { unsupported: 'error' });
    captureLines = [...records({ nodes: 1, ratePerSec: 1, durationMs: DAY, seed: 21, startTimeMs: T0, failures: FAILURES })].map((r) => r.json);
    // Decode as the sidecar does before forwarding: the same labels and line Loki stores.
    const decoder = new TalosDecoder({ job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: DAY, metadata: true });
    events = captureLines.map((l) => {
      const ev = decoder.decode(l, HOST, T0 + DAY);
      if (typeof ev === 'string') throw new Error(`generator line did not decode: ${ev}`);
      return ev;
    });
    server = await startLokiQueryServer({ maxEntriesPerQuery: 1000, maxQueryLengthMs: 6 * H });
    // Push in the JSON push format, batch by batch, as a Loki client does.
    for (let i = 0; i < events.length; i += 5000) {
      const byStream = new Map<string, { stream: Record<string, string>; values: Array<[string, string, Record<string, string>]> }>();
      for (const ev of events.slice(i, i + 5000)) {
        let s = byStream.get(ev.stream.key);
        if (s === undefined) byStream.set(ev.stream.key, (s = { stream: { ...ev.stream.labels }, values: [] }));
        // With its structured metadata (names as Loki stores them), as the pusher sends it.
        s.values.push([`${ev.timeMs}${String(ev.timeNsRem).padStart(6, '0')}`, ev.line, { ...lokiMetadata(ev.metadata ?? {}) }]);
      }
      const res = await fetch(`${server.url}/loki/api/v1/push`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ streams: [...byStream.values()] }) });
      expect(res.status).toBe(204);
    }
  }, 120_000);
  afterAll(async () => server?.close());

  const summary = (t: ReadonlyArray<{ time: string; state: string; alertname: string; value: number }>) =>
    t.map((e) => ({ time: e.time, state: e.state, alertname: e.alertname, value: e.value }));

  it('gives exactly the oracle timeline, equal to replaying the same lines from a capture, fetching only what the rules need', async () => {
    expect(server.entryCount()).toBe(events.length);
    expect(events.length).toBeGreaterThan(86_000);
    const expected = RULES.flatMap((r) => oracle(r, events, T0, T0 + DAY)).sort((a, b) => a.time.localeCompare(b.time));
    // The bursts are there: every rule fires once (the 20h NVMe blip only goes pending).
    expect(expected.filter((c) => c.state === 'firing').map((c) => c.alertname).sort()).toEqual(['ConntrackFull', 'KernelFlood', 'NvmeTimeouts', 'OOMKill', 'OOMKillLong']);
    expect(expected.filter((c) => c.alertname === 'NvmeTimeouts').map((c) => c.state)).toEqual(['pending', 'firing', 'resolved', 'pending']);

    server.requests.length = 0;
    server.failNext(2, 429);
    const client = new LokiQueryClient({ loki: { ...defaultConfig().loki, url: server.url, tenant: 'fake' }, minBackoffMs: 5, maxBackoffMs: 20 });
    const fromLoki = await replayFromLoki(client, rules, { fromMs: T0, toMs: T0 + DAY, chunkMs: 6 * H, limit: 1000 });
    client.close();

    // Same alerts, same instants and values, in the same order as the oracle (ties: any order).
    const got = summary(fromLoki.timeline);
    expect([...got].sort((a, b) => a.time.localeCompare(b.time) || a.alertname.localeCompare(b.alertname) || a.state.localeCompare(b.state)))
      .toEqual([...expected].sort((a, b) => a.time.localeCompare(b.time) || a.alertname.localeCompare(b.alertname) || a.state.localeCompare(b.state)));

    // The capture replay of the very same lines prints the very same timeline, evidence included.
    const fromCapture = replayLines(captureLines, rules, { host: HOST });
    expect(fromCapture.bad).toEqual([]);
    expect(fromLoki.timeline).toEqual(fromCapture.timeline);

    // Evidence: the line that made each series appear.
    const oom = fromLoki.timeline.find((e) => e.alertname === 'OOMKill' && e.state === 'firing')!;
    expect(oom.evidence).toHaveLength(1);
    expect(oom.evidence[0]!.line).toMatch(/^Out of memory: Killed process \d+ \(java\)/);
    expect(oom.evidence[0]!.labels).toEqual({ job: 'talos-kernel', host: HOST, talos_service: 'kernel', level: 'error' });
    // for: 0: the line fired it at the grid second at or after the line.
    expect(Date.parse(oom.time) - Date.parse(oom.evidence[0]!.time)).toBeGreaterThanOrEqual(0);
    expect(Date.parse(oom.time) - Date.parse(oom.evidence[0]!.time)).toBeLessThan(1000);
    const nvmeFiring = fromLoki.timeline.find((e) => e.alertname === 'NvmeTimeouts' && e.state === 'firing')!;
    expect(nvmeFiring.evidence.length).toBeGreaterThanOrEqual(1);
    expect(nvmeFiring.evidence.every((l) => /nvme nvme0: I\/O tag \d+ .* timeout, aborting/.test(l.line))).toBe(true);

    // Pushdown: one query per distinct selector + filters, and far fewer lines than the day holds.
    expect(fromLoki.queries.map((q) => q.logql).sort()).toEqual([
      '{job="talos-kernel", talos_service="kernel"} |= "nvme" |~ "timeout, (aborting|reset)"',
      '{job="talos-kernel"} |= "Out of memory: Killed process"',
      '{job="talos-kernel"} |= "nf_conntrack" |= "table full"',
      '{talos_service="kernel"}',
    ]);
    const kernelLines = events.filter((e) => e.stream.labels.talos_service === 'kernel').length;
    expect(fromLoki.events).toBe(kernelLines);
    // Each filtered query's lines also came with the bare kernel query: delivered once.
    const filtered = ['NvmeTimeouts', 'OOMKill', 'ConntrackFull'].map((a) => events.filter(RULES.find((r) => r.alert === a)!.counts).length);
    expect(fromLoki.stats.duplicates).toBe(filtered.reduce((x, y) => x + y, 0));
    // The rest of what was fetched beyond that: entries at a full page's last timestamp, asked again.
    expect(fromLoki.stats.fetched - fromLoki.stats.duplicates - kernelLines).toBeLessThanOrEqual(server.requests.filter((r) => r.returned === 1000).length);
    expect(fromLoki.stats.fetched).toBeLessThan(events.length / 2);

    // Loki's limits held: pages ≤ limit, ranges ≤ the chunk, 429s retried; all tenant-scoped.
    const ok = server.requests.filter((r) => r.status === 200);
    expect(server.requests.filter((r) => r.status === 429)).toHaveLength(2);
    expect(ok.every((r) => r.returned <= 1000 && r.endNs - r.startNs <= BigInt(6 * H) * 1_000_000n && r.tenant === 'fake')).toBe(true);
    expect(ok.filter((r) => r.returned === 1000).length).toBeGreaterThan(0);
  }, 120_000);

  it('runs as `node dist/cli.js replay --loki-url` with JSON and text output', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, ['dist/cli.js', 'replay', '--loki-url', server.url, '--rules', rulesFile, '--from', new Date(T0).toISOString(), '--to', new Date(T0 + DAY).toISOString(), '--chunk', '6h', '--limit', '1000', ...args]);
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const fromCapture = replayLines(captureLines, rules, { host: HOST });
    const json = await run(['--output', 'json']);
    expect(json.stderr).toBe(''); // not a TTY: no progress bar
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { source: string; queries: unknown[]; timeline: unknown[] };
    expect(doc.source).toBe('loki');
    expect(doc.queries).toHaveLength(4);
    expect(doc.timeline).toEqual(fromCapture.timeline);

    const text = await run([]);
    expect(text.code).toBe(0);
    const oom = fromCapture.timeline.find((e) => e.alertname === 'OOMKill' && e.state === 'firing')!;
    // for: 0: pending and firing at once; the evidence is printed once, under pending.
    expect(text.stdout).toContain(`${oom.time}  pending  OOMKill {severity="critical"} value=1\n    ${oom.evidence[0]!.time} {host="${HOST}", job="talos-kernel", level="error", talos_service="kernel"} Out of memory: Killed process`);
    expect(text.stdout).toMatch(/^# \d+ lines from http:\/\/127\.0\.0\.1:\d+\/loki\/api\/v1\/query_range, 2026-01-01T00:00:00\.000Z \.\. 2026-01-02T00:00:00\.000Z/);

    const tooLong = await run(['--chunk', '7h']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain('the query time range exceeds the limit (query length: 7h0m0s, limit: 6h)');
  }, 120_000);
  it('backtests rules with a parser and label filters (one on structured metadata) and a vector-vector operation: the pipeline stays local, selectors and line filters are pushed down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-replay-pipeline-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, `groups:
  - name: pipeline
    rules:
      - alert: NvmeTimeoutsByQueue
        expr: 'sum by (qid) (count_over_time({job="talos-kernel"} |= "nvme" | facility="kern" | regexp "QID (?P<qid>[0-9]+) timeout" | qid=~"[1-9][0-9]*" [5m])) > 0'
      - alert: NvmeAbortsPerTimeout
        expr: 'sum(count_over_time({job="talos-kernel"} |= "nvme" [5m])) / sum(count_over_time({job="talos-kernel"} |= "nvme" |~ "timeout, aborting" [5m])) >= 2'
`);
    const pipelineRules = await loadRuleSet([file], { unsupported: 'error' });
    const client = new LokiQueryClient({ loki: { ...defaultConfig().loki, url: server.url }, minBackoffMs: 5, maxBackoffMs: 20 });
    const fromLoki = await replayFromLoki(client, pipelineRules, { fromMs: T0, toMs: T0 + DAY, chunkMs: 6 * H, limit: 1000 });
    client.close();
    expect(fromLoki.queries.map((q) => q.logql)).toEqual(['{job="talos-kernel"} |= "nvme"', '{job="talos-kernel"} |= "nvme" |~ "timeout, aborting"']);
    // Vector-vector division: each timeout is followed by its "Abort status" line.
    expect(fromLoki.timeline.some((e) => e.alertname === 'NvmeAbortsPerTimeout' && e.state === 'firing')).toBe(true);
    const firing = fromLoki.timeline.filter((e) => e.state === 'firing' && e.alertname === 'NvmeTimeoutsByQueue');
    expect(firing.length).toBeGreaterThan(0);
    expect(firing.every((e) => /^[1-9][0-9]*$/.test(e.labels.qid ?? ''))).toBe(true);
    expect(fromLoki.timeline).toEqual(replayLines(captureLines, pipelineRules, { host: HOST }).timeline);
  }, 120_000);
});
