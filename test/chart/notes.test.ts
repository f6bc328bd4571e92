/**
 * NOTES.txt: the printed Talos commands are run for real by bash, against fake
 * `kubectl` (two nodes, LoadBalancer addresses) and `talosctl` (records its
 * arguments and any @patch file), for each mode, so quoting mistakes show up
 * as wrong arguments rather than in a review.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderNotes, type RenderOptions } from '../helpers/helm.js';

const NODES = [
  { name: 'talos-cp-1', ip: '10.0.0.5' },
  { name: 'talos-w-1', ip: '10.0.0.6' },
];
/** What the fake kubectl answers for `get svc <name>` (a LoadBalancer's address). */
const LB_ADDRESS: Record<string, string> = { 'tas-talos-alert-sidecar-ingest-0': '192.168.9.10', 'tas-talos-alert-sidecar-ingest-1': '192.168.9.11' };

interface Call {
  tool: string;
  args: string[];
  files: Record<string, string>;
}

const work = mkdtempSync(join(tmpdir(), 'tas-notes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fake CLI that logs its arguments (and the content of @file arguments) as JSON lines, answering via `answer`. */
function fakeTool(dir: string, name: string, answer: string): void {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
const files = {};
for (const a of args) if (a.startsWith('@')) files[a] = fs.readFileSync(a.slice(1), 'utf8');
fs.appendFileSync(process.env.CALL_LOG, JSON.stringify({ tool: ${JSON.stringify(name)}, args, files }) + '\\n');
${answer}
`,
  );
  chmodSync(path, 0o755);
}

/** The `for node in …; do … done` blocks of the notes, as printed. */
function loops(notes: string): string[] {
  const out: string[] = [];
  const lines = notes.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trimStart().startsWith('for node in ')) continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === 'done');
    expect(end, 'loop end').toBeGreaterThan(i);
    out.push(lines.slice(i, end + 1).join('\n'));
    i = end;
  }
  return out;
}

interface Run {
  notes: string;
  /** Per node: the destinations patch (parsed JSON) and the KmsgLogConfig documents, in call order. */
  perNode: { ip: string; destinations: unknown; kmsg: unknown[] }[];
  kubectl: Call[];
}

/** Run the notes' loops in bash with the fakes first on PATH. */
function runLoops(opts: RenderOptions, name: string): Run {
  const notes = renderNotes(opts);
  const dir = mkdtempSync(join(work, `${name}-`));
  const nodeList = NODES.map((n) => `${n.name}=${n.ip}`).join(' ') + ' ';
  fakeTool(
    dir,
    'kubectl',
    `const lb = ${JSON.stringify(LB_ADDRESS)};
if (args[0] === 'get' && args[1] === 'nodes') process.stdout.write(${JSON.stringify(nodeList)});
else if (args.includes('svc')) process.stdout.write(lb[args[args.indexOf('svc') + 1]] ?? '');
else process.exit(3);`,
  );
  fakeTool(dir, 'talosctl', '');
  const log = join(dir, 'calls.jsonl');
  writeFileSync(log, '');
  const blocks = loops(notes);
  expect(blocks).toHaveLength(2);
  for (const script of blocks) {
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, CALL_LOG: log },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
  }
  const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Call);
  const talos = calls.filter((c) => c.tool === 'talosctl');
  for (const t of talos) expect(t.args.slice(2, 5)).toEqual(['patch', 'mc', '--patch']);
  const perNode = NODES.map((n) => {
    const mine = talos.filter((t) => t.args[0] === '-n' && t.args[1] === n.ip);
    const inline = mine.filter((t) => !t.args[5]!.startsWith('@'));
    expect(inline, `${n.ip}: one destinations patch`).toHaveLength(1);
    const kmsg = mine.filter((t) => t.args[5]!.startsWith('@')).map((t) => parseYaml(t.files[t.args[5]!]!) as unknown);
    return { ip: n.ip, destinations: JSON.parse(inline[0]!.args[5]!) as unknown, kmsg };
  });
  expect(talos.length).toBe(perNode.reduce((s, n) => s + 1 + n.kmsg.length, 0));
  return { notes, perNode, kubectl: calls.filter((c) => c.tool === 'kubectl') };
}

/** Expected patch contents for endpoints that may depend on the node's address. */
function expectPatches(run: Run, endpoints: (ip: string) => string[], tag = 'node-name'): void {
  run.perNode.forEach(({ ip, destinations, kmsg }, i) => {
    const name = NODES[i]!.name;
    const eps = endpoints(ip);
    expect(destinations).toEqual(
      eps.map((endpoint) => ({ op: 'add', path: '/machine/logging/destinations/-', value: { endpoint, format: 'json_lines', extraTags: { [tag]: name } } })),
    );
    expect(kmsg).toEqual(
      eps.map((endpoint, j) => ({
        apiVersion: 'v1alpha1',
        kind: 'KmsgLogConfig',
        name: eps.length === 1 ? 'talos-alert-sidecar' : `talos-alert-sidecar-${j}`,
        url: `${endpoint}/`,
        extraTags: { [tag]: name },
      })),
    );
  });
}

describe('NOTES.txt, node mode', () => {
  it('host network (default): every node sends to 127.0.0.1 with its name as extraTags', () => {
    const run = runLoops({}, 'node');
    expectPatches(run, () => ['tcp://127.0.0.1:6000']);
    expect(run.notes).toContain('runs in node mode as DaemonSet tas-talos-alert-sidecar');
    expect(run.notes).toContain('kubectl label namespace monitoring pod-security.kubernetes.io/enforce=privileged');
    expect(run.notes).toContain('every alert carries node=<node name>');
    expect(run.notes).toContain('svc/tas-talos-alert-sidecar 8080');
    expect(run.notes).toContain('ConfigMap tas-talos-alert-sidecar-rules');
    expect(run.notes).toContain('helm test tas -n monitoring');
  });

  it('hostPort, UDP only, another host field: each node sends to its own IP', () => {
    const run = runLoops({ set: ['node.hostNetwork=false', 'node.hostPort=true', 'ingest.tcp=false', 'ingest.port=6100', 'talos.hostField=host'] }, 'hostport');
    expectPatches(run, (ip) => [`udp://${ip}:6100`], 'host');
    expect(run.notes).toContain('a hostPort needs a namespace that allows it');
  });
});

describe('NOTES.txt, cluster mode', () => {
  it('node ports: every node sends to both replicas through its own address', () => {
    const run = runLoops({ set: ['mode=cluster'] }, 'cluster');
    expectPatches(run, (ip) => [`tcp://${ip}:30600`, `tcp://${ip}:30601`]);
    expect(run.notes).toContain('runs in cluster mode as StatefulSet tas-talos-alert-sidecar');
    expect(run.notes).toContain('Alertmanager deduplicates them');
    expect(run.notes).not.toContain('pod-security.kubernetes.io/enforce=privileged');
  });

  it('node ports behind one stable address (a VIP)', () => {
    const run = runLoops({ set: ['mode=cluster', 'cluster.talosAddress=10.0.0.100', 'cluster.service.nodePorts={31000,31001}'] }, 'vip');
    expectPatches(run, () => ['tcp://10.0.0.100:31000', 'tcp://10.0.0.100:31001']);
  });

  it('LoadBalancer: fixed IPs when given, else looked up from each Service', () => {
    const fixed = runLoops({ set: ['mode=cluster', 'cluster.service.type=LoadBalancer', 'cluster.service.loadBalancerIPs={192.168.5.240,192.168.5.241}'] }, 'lb-fixed');
    expectPatches(fixed, () => ['tcp://192.168.5.240:6000', 'tcp://192.168.5.241:6000']);
    const looked = runLoops({ set: ['mode=cluster', 'cluster.service.type=LoadBalancer'] }, 'lb');
    expectPatches(looked, () => ['tcp://192.168.9.10:6000', 'tcp://192.168.9.11:6000']);
    expect(looked.kubectl.some((c) => c.args.join(' ') === "-n monitoring get svc tas-talos-alert-sidecar-ingest-1 -o jsonpath={.status.loadBalancer.ingress[0].ip}")).toBe(true);
  });
});

describe('NOTES.txt, the rest', () => {
  it('names the reused Loki ruler ConfigMap, the ServiceMonitor and PrometheusRule hints', () => {
    const notes = renderNotes({ set: ['rules.existingConfigMap=loki-alerting-rules', 'serviceMonitor.enabled=true', 'prometheusRule.enabled=true'] });
    expect(notes).toContain('Rules: ConfigMap loki-alerting-rules (tenant directory "fake")');
    expect(notes).toContain('set serviceMonitor.labels');
    expect(notes).toContain('set prometheusRule.labels');
  });

  it('without Alertmanager, says alerts are logged', () => {
    const notes = renderNotes({ setJson: ['alertmanager.urls=[]'] });
    expect(notes).toContain('Alertmanager: none (alerts are evaluated and logged, not sent)');
  });
});
