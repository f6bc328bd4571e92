/**
 * Issue 16 part 7: a start that fails half-way exits non-zero with one line
 * naming what failed, no stack trace, and no port left open; `*_file`
 * secrets work alone, empty ones are refused, oversized rule files too.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startSidecar } from '../../src/app.js';
import { ConfigError } from '../../src/config/schema.js';
import { startAlertReceiver } from '../helpers/alertmanager.js';
import { freePort } from '../helpers/ports.js';
import { BTRFS_MSG, kernelRecord, sendLines, testConfig, until } from '../helpers/sidecar.js';

const dir = mkdtempSync(join(tmpdir(), 'tas-startup-'));
const held: Array<{ close(): void }> = [];
afterAll(() => {
  for (const h of held) h.close();
});

/** Run the CLI with a config; resolves with exit code and output, or 'running' if it is still up after `ms`. */
function run(config: string, extra: string[] = [], ms = 10_000): Promise<{ code: number | null | 'running'; out: string; kill: () => void }> {
  const file = join(dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, config);
  const child = spawn(process.execPath, ['dist/cli.js', 'run', '--config', file, '--rules', 'rules/talos-kernel.yaml', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const kill = () => child.kill('SIGKILL');
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve({ code: 'running', out, kill }), ms);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, kill });
    });
  });
}

const canBindTcp = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

function expectOneLineNaming(r: { code: number | null | 'running'; out: string; kill: () => void }, what: RegExp): void {
  if (r.code === 'running') r.kill();
  expect(r.code).toBe(1);
  const lines = r.out.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(what);
  expect(r.out).not.toMatch(/^\s+at /m);
}

describe('start-up failures', () => {
  it('UDP port in use: exits 1 naming the address, and leaves no TCP port open', async () => {
    const port = await freePort();
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
    held.push(udp);
    const r = await run(`ingest: {listen: "127.0.0.1:${port}"}\nhttp: {listen: "127.0.0.1:0"}\n`);
    expectOneLineNaming(r, /ingest\.listen: cannot listen on 127\.0\.0\.1:\d+\/udp: address already in use/);
    expect(await canBindTcp(port)).toBe(true);
  });

  it('UDP port in use, in process: startSidecar rejects and closes the TCP listener it had opened', async () => {
    const port = await freePort();
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
    held.push(udp);
    const cfg = testConfig((c) => {
      c.ingest.listen = `127.0.0.1:${port}`;
    });
    await expect(startSidecar(cfg, { logger: pino({ level: 'silent' }) })).rejects.toBeInstanceOf(ConfigError);
    expect(await canBindTcp(port)).toBe(true);
  });

  it('HTTP port in use: exits 1 naming http.listen', async () => {
    const port = await freePort();
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    held.push(srv);
    const ingest = await freePort();
    const r = await run(`ingest: {listen: "127.0.0.1:${ingest}"}\nhttp: {listen: "127.0.0.1:${port}"}\n`);
    expectOneLineNaming(r, /http\.listen: cannot listen on 127\.0\.0\.1:\d+: address already in use/);
    expect(await canBindTcp(ingest)).toBe(true);
  });

  it('admin token_file missing or empty: exits 1 before any port opens', async () => {
    const ingest = await freePort();
    const missing = await run(`ingest: {listen: "127.0.0.1:${ingest}"}\nhttp: {listen: "127.0.0.1:0", admin: {enabled: true, token_file: "${join(dir, 'nope')}"}}\n`);
    expectOneLineNaming(missing, /http\.admin\.token_file: cannot read .*nope: ENOENT/);
    writeFileSync(join(dir, 'empty'), '\n');
    const empty = await run(`ingest: {listen: "127.0.0.1:${ingest}"}\nhttp: {listen: "127.0.0.1:0", admin: {enabled: true, token_file: "${join(dir, 'empty')}"}}\n`);
    expectOneLineNaming(empty, /http\.admin\.token_file: .*empty is empty/);
    writeFileSync(join(dir, 'empty-bearer'), '');
    const bearer = await run(`http: {listen: "127.0.0.1:0"}\ningest: {listen: "127.0.0.1:0"}\nalertmanager: {urls: ["http://127.0.0.1:9"], bearer_token_file: "${join(dir, 'empty-bearer')}"}\n`);
    expectOneLineNaming(bearer, /alertmanager\.bearer_token_file: .* is empty/);
  });

  it('alertmanager.bearer_token_file on its own works: the token reaches Alertmanager', async () => {
    const receiver = await startAlertReceiver();
    held.push({ close: () => void receiver.close() });
    writeFileSync(join(dir, 'token'), 's3cret\n');
    const ingest = await freePort();
    const child = spawn(process.execPath, ['dist/cli.js', 'run', '--rules', 'rules/talos-kernel.yaml', '--listen', `127.0.0.1:${ingest}`, '--http-listen', '127.0.0.1:0', '--alertmanager-url', receiver.url, '--config', join(dir, 'bearer.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    writeFileSync(join(dir, 'bearer.yaml'), `alertmanager: {bearer_token_file: "${join(dir, 'token')}"}\n`);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => out, (o) => o.includes('ready') || o.includes('at most one'), 15_000);
      expect(out).not.toContain('at most one');
      await sendLines(ingest, [kernelRecord(BTRFS_MSG)]);
      const posts = await receiver.waitFor((p) => p.length > 0, 10_000);
      expect(posts[0]!.headers.authorization).toBe('Bearer s3cret');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a rule file over rules.max_file_size is refused unread, naming the file', async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(3000)}\ngroups: []\n`);
    const r = await run(`ingest: {listen: "127.0.0.1:0"}\nhttp: {listen: "127.0.0.1:0"}\nrules: {max_file_size: 2KiB}\n`, ['--rules', big]);
    expectOneLineNaming(r, /big\.yaml: file is \d+ bytes, more than rules\.max_file_size \(2048 bytes\)/);
  });
});
