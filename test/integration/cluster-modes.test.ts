/**
 * The two ways to deploy the sidecar, against one real Alertmanager, with
 * each sidecar a real process (`node dist/cli.js run`, built by `npm test`):
 *
 * NODE MODE (a DaemonSet: one sidecar per node, each told its node through
 * `rules.external_labels: { node: ${NODE} }`): the same rule firing on two
 * nodes is two alerts, and one resolving leaves the other firing.
 *
 * CLUSTER MODE (a Deployment with replicas behind one Service, no per-pod
 * label): replicas fed the same lines send identical alerts, which
 * Alertmanager merges into one; stopping a replica does not make it flap,
 * because the other keeps re-sending it (endsAt stays in the future).
 *
 * Short resend_delay (1 s, so an alert is valid 4 s) keeps this under a minute.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, type AlertmanagerInstance, type GettableAlert } from '../helpers/alertmanager.js';
import { freePort } from '../helpers/ports.js';
import { BTRFS_MSG, kernelRecord, sendLines, until } from '../helpers/sidecar.js';

const CLI = 'dist/cli.js';

/** `window` is the rule's range: how long one line keeps the alert firing. */
function rulesYaml(window: string): string {
  return `groups:
  - name: talos-kernel
    rules:
      - alert: BTRFSCorruptionDetected
        expr: 'sum(count_over_time({job="talos-kernel"} |= "parent transid verify failed" [${window}])) > 0'
        labels:
          severity: critical
`;
}

interface SidecarProcess {
  readonly ingestPort: number;
  readonly httpPort: number;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit (bounded). */
  stop(): Promise<number | null>;
}

const dir = mkdtempSync(join(tmpdir(), 'tas-cluster-'));
const children = new Set<ChildProcess>();

async function startSidecarProcess(name: string, amUrl: string, window: string, env: Record<string, string> = {}, externalLabels = ''): Promise<SidecarProcess> {
  const rules = join(dir, `${name}-rules.yaml`);
  writeFileSync(rules, rulesYaml(window));
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `rules:
  paths: [${JSON.stringify(rules)}]
  watch: false
  evaluation_tick: 250ms
  resend_delay: 1s
  resolved_retention: 5s
${externalLabels}alertmanager:
  urls: [${JSON.stringify(amUrl)}]
  min_backoff: 50ms
  max_backoff: 500ms
`,
  );
  const [ingestPort, httpPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [CLI, 'run', '--config', config, '--listen', `127.0.0.1:${ingestPort}`, '--http-listen', `127.0.0.1:${httpPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await until(
    () => out,
    (o) => o.includes('talos-alert-sidecar ready') || child.exitCode !== null,
    15_000,
  );
  if (child.exitCode !== null) throw new Error(`sidecar ${name} exited at start:\n${out}`);
  return {
    ingestPort,
    httpPort,
    child,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      children.delete(child);
      return code;
    },
  };
}

const btrfs = (): string => kernelRecord(BTRFS_MSG);
const named = (alerts: GettableAlert[]): GettableAlert[] => alerts.filter((a) => a.labels.alertname === 'BTRFSCorruptionDetected');

let am: AlertmanagerInstance;

beforeAll(async () => {
  am = await startAlertmanager();
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await am?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node mode: one sidecar per node, told its node by an external label', () => {
  it('the same rule on two nodes is two alerts; one resolving leaves the other firing', async () => {
    // The node name comes from the environment, as from the Downward API.
    const labels = '  external_labels: { node: "${TAS_NODE_NAME}" }\n';
    const [a, b] = await Promise.all([
      startSidecarProcess('node-a', am.url, '3s', { TAS_NODE_NAME: 'a' }, labels),
      startSidecarProcess('node-b', am.url, '3s', { TAS_NODE_NAME: 'b' }, labels),
    ]);
    try {
      await Promise.all([sendLines(a.ingestPort, [btrfs()]), sendLines(b.ingestPort, [btrfs()])]);
      const both = await until(
        async () => named(await am.alerts()),
        (x) => x.length === 2,
      );
      expect(both.map((x) => x.labels.node).sort()).toEqual(['a', 'b']);
      // sum() drops the stream labels: the external label is what tells the nodes apart.
      for (const x of both) expect(x.labels).toEqual({ alertname: 'BTRFSCorruptionDetected', severity: 'critical', node: x.labels.node });

      // Node b keeps logging the error; node a's 3 s window passes and its alert resolves.
      const feedB = setInterval(() => void sendLines(b.ingestPort, [btrfs()]).catch(() => {}), 500);
      try {
        const afterResolve = await until(
          async () => named(await am.alerts()),
          (x) => x.length === 1,
          15_000,
        );
        expect(afterResolve[0]!.labels.node).toBe('b');
        expect(afterResolve[0]!.status.state).toBe('active');
        // And it stays that way: b is not ended by a's resolution (checked over 2 s).
        const until2s = Date.now() + 2000;
        while (Date.now() < until2s) {
          const now = named(await am.alerts());
          expect(now.map((x) => x.labels.node)).toEqual(['b']);
          expect(Date.parse(now[0]!.endsAt)).toBeGreaterThan(Date.now());
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        clearInterval(feedB);
      }
      // Sidecar a really sent a resolution (it did not just time out): its log says so.
      expect(a.output()).toMatch(/"state":"resolved"/);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 45_000);
});

describe('cluster mode: replicas without a per-pod label', () => {
  it('replicas fed the same lines make one alert; stopping one does not make it flap', async () => {
    const r1 = await startSidecarProcess('replica-1', am.url, '2m');
    const r2 = await startSidecarProcess('replica-2', am.url, '2m');
    try {
      const line = btrfs();
      await Promise.all([sendLines(r1.ingestPort, [line]), sendLines(r2.ingestPort, [line])]);
      // Both replicas fire (their own APIs say so) ...
      for (const r of [r1, r2]) {
        await until(
          async () => ((await (await fetch(`http://127.0.0.1:${r.httpPort}/api/v1/alerts`)).json()) as { data: { alerts: unknown[] } }).data.alerts.length,
          (n) => n === 1,
        );
      }
      // ... and Alertmanager holds one alert.
      const one = await until(
        async () => named(await am.alerts()),
        (x) => x.length === 1,
      );
      expect(one[0]!.labels).toEqual({ alertname: 'BTRFSCorruptionDetected', severity: 'critical' });
      // Give Alertmanager a couple of resends from both replicas: still one.
      await new Promise((r) => setTimeout(r, 1500));
      expect(named(await am.alerts())).toHaveLength(1);

      expect(await r1.stop()).toBe(0);
      const stoppedAt = Date.now();
      const endsAtAtStop = Date.parse(named(await am.alerts())[0]!.endsAt);
      // Watch for longer than an alert's validity (4 × resend_delay = 4 s): the
      // alert never goes away, its endsAt is always ahead, and replica 2 moves it on.
      let lastEndsAt = endsAtAtStop;
      while (Date.now() - stoppedAt < 6000) {
        const now = named(await am.alerts());
        expect(now, 'the alert must stay in Alertmanager').toHaveLength(1);
        expect(now[0]!.status.state).toBe('active');
        lastEndsAt = Date.parse(now[0]!.endsAt);
        expect(lastEndsAt).toBeGreaterThan(Date.now());
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(lastEndsAt).toBeGreaterThan(endsAtAtStop + 3000);
      // One alert since it started: startsAt unchanged by the failover.
      expect(named(await am.alerts())[0]!.startsAt).toBe(one[0]!.startsAt);
    } finally {
      await Promise.all([r1.child.exitCode === null ? r1.stop() : Promise.resolve(null), r2.stop()]);
    }
  }, 45_000);
});
