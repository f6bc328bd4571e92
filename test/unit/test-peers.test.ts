/** `npm test`'s first step: on a machine without the real peers it stops at once with the command to run. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('scripts/test-peers.mjs', () => {
  it('names the missing peers and the exact apt-get command, exit 1, when it may not install', () => {
    const bin = mkdtempSync(join(tmpdir(), 'tas-peers-'));
    symlinkSync('/bin/sh', join(bin, 'sh')); // a PATH with a shell and none of the peers
    const r = spawnSync(process.execPath, ['scripts/test-peers.mjs'], { encoding: 'utf8', env: { PATH: bin, TEST_PEERS_NO_INSTALL: '1' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('prometheus-alertmanager, prometheus, promtool');
    expect(r.stderr).toContain('apt-get install -y --no-install-recommends prometheus-alertmanager prometheus');
  });

  it('passes silently where the peers are installed (this machine runs the integration tests)', () => {
    const r = spawnSync(process.execPath, ['scripts/test-peers.mjs'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
