/** The command line as a user runs it: `node dist/cli.js …` (built by `npm test`). */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
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
    expect(library.stdout.match(/SUCCESS: \d+ rules found/g)).toHaveLength(readdirSync('rules/library').filter((f) => /\.ya?ml$/.test(f)).length);
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
      await until(async () => ((await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/alerts`)).json()) as { data: { alerts: unknown[] } }).data.alerts.length, (n) => n === 1);
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
    const names = async () => (((await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/rules`)).json()) as { data: { groups: unknown } }).data.groups as Array<{ rules: Array<{ name: string }> }>).flatMap((g) => g.rules.map((r) => r.name));
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

  describe('command line parsing (strict: an unknown or incomplete flag never starts the service on defaults)', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });

    it('run --bogus and a misspelt flag exit 2 naming the flag, with the usage', () => {
      for (const [args, named] of [
        [['run', '--bogus'], 'unknown flag --bogus'],
        [['run', '--listne', '127.0.0.1:7000'], 'unknown flag --listne'],
        [['run', '--listen'], 'flag --listen needs a value'],
        [['run', 'stray'], 'unexpected argument "stray"'],
        [['check', '--unsupported-rules', 'maybe', 'rules'], 'flag --unsupported-rules: expected error or skip, got "maybe"'],
      ] as const) {
        const r = cli(...args);
        expect(r.status, args.join(' ')).toBe(2);
        expect(r.stderr).toContain(`talos-alert-sidecar ${args[0]}: ${named}`);
        expect(r.stderr).toContain(`Usage: talos-alert-sidecar ${args[0]}`);
        expect(r.stderr).not.toContain('ready');
      }
    }, 60_000);

    it("--version prints package.json's version", () => {
      const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
      const r = cli('--version');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    });

    it('-h and --help: the general usage, and each command its own', () => {
      for (const flag of ['-h', '--help']) {
        const r = cli(flag);
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/Commands:\n {2}run .*\n {2}check /);
      }
      for (const [command, mentions, flag] of [
        [['run'], '--alertmanager-url URL', '--help'],
        [['check'], '--strict', '-h'],
        [['check', 'config'], 'check config FILE', '--help'],
        [['replay'], '--output text|json', '-h'],
        [['demo'], '--duration SECONDS', '-h'],
        [['config-docs'], 'config-docs', '-h'],
      ] as const) {
        {
          const r = cli(...command, flag);
          expect(r.status, `${command.join(' ')} ${flag}`).toBe(0);
          expect(r.stdout).toMatch(new RegExp(`^Usage: talos-alert-sidecar ${command.join(' ')}`));
          expect(r.stdout).toContain(mentions);
        }
      }
      expect(cli('bogus').status).toBe(2);
    }, 60_000);

    it('check config FILE: SUCCESS, or the error and exit 1', () => {
      const dir = mkdtempSync(join(tmpdir(), 'tas-cli-'));
      writeFileSync(join(dir, 'good.yaml'), 'ingest:\n  listen: 127.0.0.1:6000\nalertmanager:\n  urls: [http://am:9093]\n');
      writeFileSync(join(dir, 'bad.yaml'), 'ingest:\n  listn: 1\n');
      const ok = cli('check', 'config', join(dir, 'good.yaml'));
      expect(ok.status).toBe(0);
      expect(ok.stdout).toBe(`Checking ${join(dir, 'good.yaml')}\n  SUCCESS\n\n`);
      const bad = cli('check', 'config', join(dir, 'bad.yaml'));
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('FAILED: config: ingest.listn: unknown setting');
      const missing = cli('check', 'config', join(dir, 'none.yaml'));
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain('ENOENT');
    });

    it('check --strict: a warning (a skipped rule) fails the check', () => {
      const dir = mkdtempSync(join(tmpdir(), 'tas-cli-'));
      const file = join(dir, 'r.yaml');
      writeFileSync(file, 'groups:\n  - name: g\n    rules:\n      - alert: Q\n        expr: sum(count_over_time({job="talos-kernel"} |= "x" [1m])) > 0\n        annotations:\n          summary: \'{{ query "up" }}\'\n');
      const lenient = cli('check', '--unsupported-rules', 'skip', file);
      expect(lenient.status).toBe(0);
      expect(lenient.stdout).toContain('SKIPPED: group "g": rule "Q"');
      const strict = cli('check', '--strict', '--unsupported-rules', 'skip', file);
      expect(strict.status).toBe(1);
      expect(strict.stderr).toContain('FAILED (--strict): 1 rule(s) skipped');
      expect(cli('check', '--strict', 'rules/talos-kernel.yaml').status).toBe(0);
    });
  });
});
