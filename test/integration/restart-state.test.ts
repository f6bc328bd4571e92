/**
 * Restart safety: a firing alert keeps its startsAt across SIGTERM + start
 * (real sidecar processes, real Alertmanager behind a recording proxy), a
 * `for` in progress continues, and a corrupt state file is ignored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, startAlertReceiver, type AlertmanagerInstance, type AlertReceiver } from '../helpers/alertmanager.js';
import { freePort } from '../helpers/ports.js';
import { BTRFS_MSG, kernelRecord, sendLines, until } from '../helpers/sidecar.js';

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function startProcess(args: string[]): Proc {
  const child = spawn(process.execPath, ['dist/cli.js', 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

let am: AlertmanagerInstance;
let proxy: AlertReceiver;
const procs: Proc[] = [];

beforeAll(async () => {
  am = await startAlertmanager();
  proxy = await startAlertReceiver({ forwardTo: am.url });
});
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await proxy?.close();
  await am?.stop();
});

describe('restart-safe alert state', () => {
  it('keeps a firing alert\'s startsAt across SIGTERM + start, and a `for` in progress continues', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-state-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      `groups:
  - name: g
    rules:
      - alert: BTRFSCorruptionDetected
        expr: sum(count_over_time({job="talos-kernel"} |= "parent transid verify failed" [5m])) > 0
        labels: { severity: critical }
      - alert: SlowBurn
        expr: sum(count_over_time({job="talos-kernel"} |= "slow burn" [5m])) > 0
        for: 6s
`,
    );
    const [port, httpPort] = [await freePort(), await freePort()];
    const args = ['--rules', rules, '--listen', `127.0.0.1:${port}`, '--http-listen', `127.0.0.1:${httpPort}`, '--alertmanager-url', proxy.url, '--state-file', join(dir, 'state.json')];
    const first = startProcess(args);
    procs.push(first);
    await until(first.out, (o) => o.includes('ready'), 15_000);
    await sendLines(port, [kernelRecord(BTRFS_MSG), kernelRecord('slow burn in progress')]);
    const before = await until(() => am.alerts(), (a) => a.length === 1, 10_000);
    const startsAt = before[0]!.startsAt;
    const pendingSince = Date.now();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const postsBefore = proxy.posts.length;
    const second = startProcess(args);
    procs.push(second);
    await until(second.out, (o) => o.includes('ready'), 15_000);
    expect(second.out()).toContain('rule state restored');
    // The restored firing alert is announced again at once, with the original startsAt, never resolved.
    const after = await proxy.waitFor((p) => p.length > postsBefore, 10_000);
    const resent = after.slice(postsBefore).flatMap((p) => p.alerts).find((a) => a.labels.alertname === 'BTRFSCorruptionDetected')!;
    expect(resent.startsAt).toBe(startsAt);
    expect(Date.parse(resent.endsAt!)).toBeGreaterThan(Date.now());
    const amNow = await am.alerts();
    expect(amNow.find((a) => a.labels.alertname === 'BTRFSCorruptionDetected')!.startsAt).toBe(startsAt);
    // SlowBurn was pending before the restart; it fires 6 s after its line, not 6 s after the restart.
    const fired = await proxy.waitFor((p) => p.some((x) => x.alerts.some((a) => a.labels.alertname === 'SlowBurn')), 15_000);
    const slow = fired.flatMap((p) => p.alerts).find((a) => a.labels.alertname === 'SlowBurn')!;
    expect(Math.abs(Date.parse(slow.startsAt!) - (pendingSince + 6000))).toBeLessThan(2500);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('keeps a firing alert across kill -9 a moment after it fired: restored, re-sent with its startsAt, never resolved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-state-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      `groups:
  - name: g
    rules:
      - alert: CrashProbe
        expr: sum(count_over_time({job="talos-kernel"} |= "crash probe" [5m])) > 0
`,
    );
    const [port, httpPort] = [await freePort(), await freePort()];
    const args = ['--rules', rules, '--listen', `127.0.0.1:${port}`, '--http-listen', `127.0.0.1:${httpPort}`, '--alertmanager-url', proxy.url, '--state-file', join(dir, 'state.json')];
    const first = startProcess(args);
    procs.push(first);
    await until(first.out, (o) => o.includes('ready'), 15_000);
    await sendLines(port, [kernelRecord('crash probe: disk gone')]);
    const fired = await until(() => am.alerts(), (a) => a.some((x) => x.labels.alertname === 'CrashProbe'), 10_000);
    const startsAt = fired.find((x) => x.labels.alertname === 'CrashProbe')!.startsAt;
    // Well inside the old 30 s save interval, after the ≤ 0.5 s change-triggered write.
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    await first.exited;

    const postsBefore = proxy.posts.length;
    const second = startProcess(args);
    procs.push(second);
    await until(second.out, (o) => o.includes('ready'), 15_000);
    expect(second.out()).toContain('rule state restored');
    const api = (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: { alertname: string }; state: string }> } };
    expect(api.data.alerts.map((a) => `${a.labels.alertname}=${a.state}`)).toEqual(['CrashProbe=firing']);
    const after = await proxy.waitFor((p) => p.slice(postsBefore).some((x) => x.alerts.some((a) => a.labels.alertname === 'CrashProbe')), 10_000);
    const resent = after.slice(postsBefore).flatMap((p) => p.alerts).find((a) => a.labels.alertname === 'CrashProbe')!;
    expect(resent.startsAt).toBe(startsAt);
    // Watch a while: nothing ever tells Alertmanager it resolved.
    await new Promise((r) => setTimeout(r, 3000));
    const resolvedPosts = proxy.posts.filter((p) => p.alerts.some((a) => a.labels.alertname === 'CrashProbe' && a.endsAt !== undefined && Date.parse(a.endsAt) <= p.atMs));
    expect(resolvedPosts).toEqual([]);
    const amNow = (await am.alerts()).find((a) => a.labels.alertname === 'CrashProbe')!;
    expect(amNow.startsAt).toBe(startsAt);
    expect(Date.parse(amNow.endsAt)).toBeGreaterThan(Date.now() + 60_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('ignores a corrupt or foreign state file and starts anyway', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-state-'));
    const state = join(dir, 'state.json');
    writeFileSync(state, '{"kind":"talos-alert-sidecar/rule-state","version":1,"savedAtMs":1,"rules":[{"identity":');
    const [port, httpPort] = [await freePort(), await freePort()];
    const p = startProcess(['--rules', 'rules/talos-kernel.yaml', '--listen', `127.0.0.1:${port}`, '--http-listen', `127.0.0.1:${httpPort}`, '--state-file', state]);
    procs.push(p);
    await until(p.out, (o) => o.includes('ready'), 15_000);
    expect(p.out()).toContain('state file ignored');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
