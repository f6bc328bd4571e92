/** The command line as a user runs it: `node dist/cli.js …` (built by `npm test`). */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { BTRFS_MSG, kernelRecord, sendLines, until } from '../helpers/sidecar.js';

const CLI = 'dist/cli.js';

describe('node dist/cli.js', () => {
  it('demo: runs on embedded defaults, lines flow and the BTRFS alert fires', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--duration', '5'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/lines received: [1-9]\d+/);
    expect(r.stdout).toContain('FIRING BTRFSCorruptionDetected');
  });

  it('check: validates rule files like promtool (exit 0 / exit 1 with file:group:rule lines)', () => {
    const ok = spawnSync(process.execPath, [CLI, 'check', 'rules/talos-kernel.yaml'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('SUCCESS: 2 rules found');
    // The opt-in library passes too, with no LogQL the engine (or the Loki ruler) rejects.
    const library = spawnSync(process.execPath, [CLI, 'check', 'rules/library'], { encoding: 'utf8' });
    expect(library.status).toBe(0);
    expect(library.stdout.match(/SUCCESS: \d+ rules found/g)).toHaveLength(3);
    const dir = mkdtempSync(join(tmpdir(), 'tas-cli-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(count_over_time({job="talos-kernel"} |~ "(unclosed" [5m])) > 0\n');
    const r = spawnSync(process.execPath, [CLI, 'check', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/bad\.yaml.*g.*Broken/);
  });

  it('run: fails at start naming a bad config key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-cli-'));
    writeFileSync(join(dir, 'c.yaml'), 'ingest:\n  listn: 1\n');
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', join(dir, 'c.yaml')], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ingest.listn: unknown setting');
  });

  it('run: serves, alerts, and on SIGTERM drains and exits 0 within a bounded time', async () => {
    const [port, httpPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [CLI, 'run', '--rules', 'rules/talos-kernel.yaml', '--listen', `127.0.0.1:${port}`, '--http-listen', `127.0.0.1:${httpPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => out, (o) => o.includes('ready'), 15_000);
      await sendLines(port, [kernelRecord(BTRFS_MSG)]);
      await until(async () => (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/alerts`)).json()).data.alerts.length, (n) => n === 1);
      const started = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(out).toContain('"msg":"stopped"');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('run: SIGHUP reloads the rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-cli-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'groups:\n  - name: g\n    rules:\n      - alert: First\n        expr: sum(count_over_time({job="talos-kernel"} |= "x" [1m])) > 0\n');
    writeFileSync(join(dir, 'config.yaml'), `rules:\n  paths: [${JSON.stringify(rules)}]\n  watch: false\n`);
    const [port, httpPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [CLI, 'run', '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`, '--http-listen', `127.0.0.1:${httpPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const names = async () => ((await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/rules`)).json()).data.groups as Array<{ rules: Array<{ name: string }> }>).flatMap((g) => g.rules.map((r) => r.name));
    try {
      await until(() => out, (o) => o.includes('ready'), 15_000);
      expect(await names()).toEqual(['First']);
      writeFileSync(rules, 'groups:\n  - name: g\n    rules:\n      - alert: Second\n        expr: sum(count_over_time({job="talos-kernel"} |= "y" [1m])) > 0\n');
      child.kill('SIGHUP');
      await until(names, (n) => n.join() === 'Second', 10_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
