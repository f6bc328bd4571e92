/** `check PATH...` (runCheck): promtool-style output and exit codes. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/cli/check.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const rel = (p: string): string => relative(process.cwd(), join(here, p));
const SEED = rel('../../rules/talos-kernel.yaml');
const BAD = rel('../fixtures/rules-bad');

async function check(paths: string[], unsupported?: 'error' | 'skip'): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c: Buffer) => (chunks.out += c.toString()));
  err.on('data', (c: Buffer) => (chunks.err += c.toString()));
  const code = await runCheck(paths, out, err, unsupported ? { unsupported } : {});
  return { code, ...chunks };
}

const tmp = mkdtempSync(join(tmpdir(), 'rules-check-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('runCheck', () => {
  it('a valid file: SUCCESS with the rule count, exit 0', async () => {
    const r = await check([SEED]);
    expect(r).toEqual({ code: 0, out: `Checking ${SEED}\n  SUCCESS: 2 rules found\n\n`, err: '' });
  });

  it('an invalid file: FAILED and every error line on stderr, exit 1', async () => {
    const file = join(BAD, 'durations.yaml');
    const r = await check([SEED, file]);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`Checking ${SEED}\n  SUCCESS: 2 rules found\n\nChecking ${file}\n`);
    expect(r.err).toBe(
      '  FAILED:\n' +
        `${file}:3:15: group "g": interval: not a valid duration string: "1minute"\n` +
        `${file}:7:14: group "g": rule "Durations": for: not a valid duration string: "5"\n` +
        `${file}:8:26: group "g": rule "Durations": keep_firing_for: not a valid duration string: "1h1h"\n\n`,
    );
  });

  it('a path that does not exist fails', async () => {
    const missing = join(tmp, 'nope.yaml');
    const r = await check([missing]);
    expect(r).toEqual({ code: 1, out: `Checking ${missing}\n`, err: `  FAILED:\n${missing}: no such file or directory\n\n` });
  });

  it('a directory with no rule files fails (nothing was checked)', async () => {
    const dir = mkdtempSync(join(tmp, 'empty-'));
    const r = await check([dir]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`no rule files found in ${dir}\n`);
  });

  it('unsupported rules: listed as WARNING by default (exit 0), FAILED with unsupported: error (exit 1)', async () => {
    const file = join(BAD, 'expr-unsupported.yaml');
    const strict = await check([file], 'error');
    expect(strict.code).toBe(1);
    expect(strict.err).toContain('rule "ParserStage": unsupported LogQL: expr 1:');
    const lenient = await check([file]);
    expect(lenient.code).toBe(0);
    expect(lenient.err).toBe('');
    const lines = lenient.out.split('\n');
    expect(lines.slice(0, 2)).toEqual([`Checking ${file}`, '  SUCCESS: 1 rules found, skipped: 2 unsupported']);
    expect(lines[2]).toMatch(new RegExp(`^ {2}WARNING: ${file}:6: group "g": rule "ParserStage": unsupported, skipped: unsupported LogQL: expr 1:\\d+: `));
    expect(lines[3]).toBe(`  WARNING: ${file}:8: group "g": rule "QueryInTemplate": unsupported, skipped: annotation "summary": template: 1:4: function "query" is not supported: query needs a query engine, which the sidecar does not have`);
  });

  it('checks every file of a directory, in name order', async () => {
    const dir = mkdtempSync(join(tmp, 'dir-'));
    writeFileSync(join(dir, 'b.yaml'), 'groups: []\n');
    writeFileSync(join(dir, 'a.yaml'), 'groups:\n  - name: x\n    rules: []\n');
    const r = await check([dir]);
    expect(r).toEqual({ code: 0, out: `Checking ${join(dir, 'a.yaml')}\n  SUCCESS: 0 rules found\n\nChecking ${join(dir, 'b.yaml')}\n  SUCCESS: 0 rules found\n\n`, err: '' });
  });
});
