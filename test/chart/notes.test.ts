/**
 * NOTES.txt: the printed Talos commands are run for real by bash, against fake
 * `kubectl` (two nodes) and `talosctl` (records its arguments and any @patch
 * file), so quoting mistakes show up as wrong arguments rather than in a review.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderNotes, type RenderOptions } from '../helpers/helm.js';

const NODES = ['10.0.0.5', '10.0.0.6'];

interface Call {
  tool: string;
  args: string[];
  files: Record<string, string>;
}

const work = mkdtempSync(join(tmpdir(), 'tas-notes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fake CLI that logs its arguments (and the content of @file arguments) as JSON lines. */
function fakeTool(dir: string, name: string, stdout: string): void {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
const files = {};
for (const a of args) if (a.startsWith('@')) files[a] = fs.readFileSync(a.slice(1), 'utf8');
fs.appendFileSync(process.env.CALL_LOG, JSON.stringify({ tool: ${JSON.stringify(name)}, args, files }) + '\\n');
process.stdout.write(${JSON.stringify(stdout)});
`,
  );
  chmodSync(path, 0o755);
}

/** The `for ip in …; do … done` blocks of the notes, as printed. */
function loops(notes: string): string[] {
  const out: string[] = [];
  const lines = notes.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trimStart().startsWith('for ip in ')) continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === 'done');
    expect(end, 'loop end').toBeGreaterThan(i);
    out.push(lines.slice(i, end + 1).join('\n'));
    i = end;
  }
  return out;
}

/** Run the notes' loops in bash with the fakes first on PATH; return the recorded calls. */
function runLoops(opts: RenderOptions, name: string): { notes: string; calls: Call[] } {
  const notes = renderNotes(opts);
  const dir = mkdtempSync(join(work, `${name}-`));
  fakeTool(dir, 'kubectl', `${NODES.join(' ')} `);
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
  return { notes, calls };
}

function check(calls: Call[], scheme: 'tcp' | 'udp', port: number): void {
  const kubectl = calls.filter((c) => c.tool === 'kubectl');
  expect(kubectl).toHaveLength(2);
  for (const k of kubectl) {
    expect(k.args.slice(0, 3)).toEqual(['get', 'nodes', '-o']);
    expect(k.args[3]).toContain('.status.addresses[?(@.type=="InternalIP")].address');
  }
  const talos = calls.filter((c) => c.tool === 'talosctl');
  expect(talos).toHaveLength(2 * NODES.length);
  const [destinations, kmsg] = [talos.slice(0, NODES.length), talos.slice(NODES.length)];
  NODES.forEach((ip, i) => {
    // Service logs: one JSON patch that appends a destination on the node's own address.
    const d = destinations[i]!;
    expect(d.args.slice(0, 5)).toEqual(['-n', ip, 'patch', 'mc', '--patch']);
    expect(d.args).toHaveLength(6);
    expect(JSON.parse(d.args[5]!)).toEqual([
      { op: 'add', path: '/machine/logging/destinations/-', value: { endpoint: `${scheme}://${ip}:${port}`, format: 'json_lines' } },
    ]);
    // Kernel logs: a KmsgLogConfig document from a patch file.
    const k = kmsg[i]!;
    expect(k.args.slice(0, 5)).toEqual(['-n', ip, 'patch', 'mc', '--patch']);
    const file = k.args[5]!;
    expect(file.startsWith('@')).toBe(true);
    expect(parseYaml(k.files[file]!)).toEqual({ apiVersion: 'v1alpha1', kind: 'KmsgLogConfig', name: 'talos-alert-sidecar', url: `${scheme}://${ip}:${port}/` });
  });
}

describe('NOTES.txt', () => {
  it('prints working talosctl commands for the default NodePort', () => {
    const { notes, calls } = runLoops({}, 'default');
    check(calls, 'tcp', 30600);
    expect(notes).toContain('svc/tas-talos-alert-sidecar 8080');
    expect(notes).toContain('ConfigMap tas-talos-alert-sidecar-rules');
  });

  it('follows the configured node port and protocol (UDP only, side by side with Vector on 30600)', () => {
    const { notes, calls } = runLoops({ set: ['ingest.service.nodePort=30601', 'ingest.tcp=false'] }, 'udp');
    check(calls, 'udp', 30601);
    expect(notes).not.toContain('30600');
  });

  it('names the reused Loki ruler ConfigMap and the ServiceMonitor hint', () => {
    const notes = renderNotes({ set: ['rules.existingConfigMap=loki-alerting-rules', 'serviceMonitor.enabled=true'] });
    expect(notes).toContain('Rules: ConfigMap loki-alerting-rules (tenant directory "fake")');
    expect(notes).toContain('set serviceMonitor.labels');
  });

  it('without the ingest Service, prints no node-port commands', () => {
    const notes = renderNotes({ set: ['ingest.service.enabled=false'] });
    expect(loops(notes)).toHaveLength(0);
    expect(notes).toContain('ingest.service.enabled is false');
  });
});
