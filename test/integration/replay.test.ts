/** `replay`: backtesting rules on captures, on a clock driven by the events' own timestamps. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuleSet } from '../../src/rules/load.js';
import { replayLines } from '../../src/cli/replay.js';

const T0 = Date.parse('2026-02-27T03:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
let seq = 100;

function kernel(ms: number, msg: string, priority = 'err'): Record<string, string | number> {
  return { clock: 1_000_000 + ms - T0, facility: 'kern', msg: `${msg}\n`, priority, seq: seq++, 'talos-level': priority === 'err' ? 'error' : 'info', 'talos-time': iso(ms) };
}

/** What `talosctl -n 10.0.0.5 dmesg` prints for a kernel record. */
function dmesgText(rec: Record<string, string | number>): string {
  return `10.0.0.5: ${rec.facility}: ${String(rec.priority).padStart(7)}: [${rec['talos-time']}]: ${String(rec.msg).replace(/\n$/, '')}`;
}

const CAPTURE = [
  kernel(T0, 'NET: Registered protocol family 10', 'info'),
  kernel(T0 + 10_000, 'BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230'),
  // An iSCSI burst: the iscsid lines say "iscsi" + "error"; it must stay for 2m.
  ...Array.from({ length: 5 }, (_, i) => kernel(T0 + 60_000 + i * 30_000, `iscsid: Kernel reported iSCSI connection 1:0 error (1020 - ISCSI_ERR_TCP_CONN_CLOSE: TCP connection closed) state (3)`)),
  kernel(T0 + 400_000, 'eth0: link up', 'info'),
];

describe('replay', async () => {
  const rules = await loadRuleSet(['rules/talos-kernel.yaml'], { unsupported: 'error' });
  const expected = [
    `${iso(T0 + 10_000)} pending BTRFSCorruptionDetected`,
    `${iso(T0 + 10_000)} firing BTRFSCorruptionDetected`,
    `${iso(T0 + 60_000)} pending ISCSIKernelError`,
    // for: 2m on event time: the first iSCSI line was at +60s.
    `${iso(T0 + 180_000)} firing ISCSIKernelError`,
    `${iso(T0 + 310_000)} resolved BTRFSCorruptionDetected`,
    // last iSCSI line at +180s; it leaves the 5m window at +480s.
    `${iso(T0 + 480_000)} resolved ISCSIKernelError`,
  ];
  const summary = (r: ReturnType<typeof replayLines>) => r.timeline.map((e) => `${e.time} ${e.state} ${e.alertname}`);

  it('gives the expected timeline for a json_lines capture (BTRFS line, iSCSI burst)', () => {
    const r = replayLines(CAPTURE.map((c) => JSON.stringify(c)), rules, { host: 'talos-519-vmy' });
    expect(r.format).toBe('json_lines');
    expect(r.bad).toEqual([]);
    expect(summary(r)).toEqual(expected);
    expect(r.timeline[1]!.labels).toEqual({ severity: 'critical' });
  });

  it('gives the same alerts for the `talosctl dmesg` text twin, and reports bad lines by number without stopping', () => {
    const text = CAPTURE.map(dmesgText);
    text.splice(3, 0, 'this is not a dmesg line');
    const r = replayLines(text, rules);
    expect(r.format).toBe('dmesg');
    expect(summary(r)).toEqual(expected);
    expect(r.bad).toEqual([{ lineNo: 4, reason: expect.any(String) }]);
  });

  it('runs as `node dist/cli.js replay` with text and JSON output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-replay-'));
    const file = join(dir, 'capture.txt');
    writeFileSync(file, CAPTURE.map(dmesgText).join('\n') + '\n');
    const text = spawnSync(process.execPath, ['dist/cli.js', 'replay', '--rules', 'rules/talos-kernel.yaml', file], { encoding: 'utf8' });
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`${iso(T0 + 180_000)}  firing   ISCSIKernelError {severity="warning"}`);
    const json = spawnSync(process.execPath, ['dist/cli.js', 'replay', '--rules', 'rules/talos-kernel.yaml', '--output', 'json', '-'], { encoding: 'utf8', input: CAPTURE.map((c) => JSON.stringify(c)).join('\n') });
    expect(json.status).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.timeline.map((e: { time: string; state: string; alertname: string }) => `${e.time} ${e.state} ${e.alertname}`)).toEqual(expected);
  });
});
