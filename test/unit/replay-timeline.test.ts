/** The backtest timeline: changes with values and the evidence lines of each series. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { formatTimelineText, TimelineRecorder } from '../../src/replay/timeline.js';

const T0 = Date.UTC(2026, 0, 1);
const sets = new LabelSetCache();
const ev = (ms: number, host: string, line: string): LogEvent => ({
  timeMs: T0 + ms, timeNsRem: 0, receivedMs: T0 + ms, line, metadata: undefined, source: 'kernel',
  stream: sets.intern({ job: 'talos-kernel', host, talos_service: 'kernel' }),
});

describe('timeline recorder', () => {
  it('lists per series the lines that made it appear, not another host\'s; resolutions carry none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-timeline-'));
    writeFileSync(join(dir, 'r.yaml'), `groups:
  - name: g
    rules:
      - alert: Segfaults
        expr: sum by (host) (count_over_time({job="talos-kernel"} |= "segfault" [1m])) > 1
        for: 10s
`);
    const rules = await loadRuleSet([join(dir, 'r.yaml')], { unsupported: 'error' });
    const rec = new TimelineRecorder(rules, T0);
    rec.ingest(ev(1000, 'a', 'app[1]: segfault at 0 ip 1'));
    rec.ingest(ev(2000, 'b', 'app[9]: segfault at 0 ip 9'));
    rec.ingest(ev(2500, 'a', 'eth0: link up'));
    rec.ingest(ev(3000, 'a', 'app[2]: segfault at 0 ip 2'));
    rec.advanceTo(T0 + 120_000);
    expect(rec.timeline.map((e) => [e.time, e.state, e.labels, e.value, e.evidence.map((l) => l.line)])).toEqual([
      [new Date(T0 + 3000).toISOString(), 'pending', { host: 'a' }, 2, ['app[1]: segfault at 0 ip 1', 'app[2]: segfault at 0 ip 2']],
      [new Date(T0 + 13_000).toISOString(), 'firing', { host: 'a' }, 2, ['app[1]: segfault at 0 ip 1', 'app[2]: segfault at 0 ip 2']],
      [new Date(T0 + 61_000).toISOString(), 'resolved', { host: 'a' }, 2, []],
    ]);
    const text = formatTimelineText(rec.timeline);
    expect(text.split('\n')[0]).toBe(`${new Date(T0 + 3000).toISOString()}  pending  Segfaults {host="a"} value=2`);
    expect(text.split('\n')[1]).toBe(`    ${new Date(T0 + 1000).toISOString()} {host="a", job="talos-kernel", talos_service="kernel"} app[1]: segfault at 0 ip 1`);
  });
});
