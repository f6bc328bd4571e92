/** replay --loki-url: time range flags, progress bar, loki settings from flags and config. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/cli/args.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { lokiSettings, replayCommand } from '../../src/cli/replay.js';
import { ProgressBar } from '../../src/replay/progress.js';
import { parseTimeArg, resolveTimeRange } from '../../src/replay/time-range.js';

const replaySpec = COMMANDS.find((c) => c.spec.name === 'replay')!.spec;
const args = (...argv: string[]) => parseCommand(replaySpec, argv)!;

describe('replay time range', () => {
  const now = Date.UTC(2026, 0, 2, 12);
  it('reads times as Loki reads start/end: RFC 3339, seconds, float seconds, nanoseconds', () => {
    expect(parseTimeArg('2026-01-01T00:00:00Z', '--from')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimeArg('2026-01-01T01:00:00+01:00', '--from')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimeArg('1767225600', '--from')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimeArg('1767225600.5', '--from')).toBe(Date.UTC(2026, 0, 1) + 500);
    expect(parseTimeArg('1767225600000000000', '--from')).toBe(Date.UTC(2026, 0, 1));
    expect(() => parseTimeArg('2026-01-01 00:00', '--from')).toThrow(/--from: expected RFC 3339/);
    expect(() => parseTimeArg('2026-01-01T00:00:00', '--to')).toThrow(/--to/);
  });
  it('--since ends now; --from/--to; empty or contradictory ranges are errors', () => {
    expect(resolveTimeRange({ since: '24h' }, now)).toEqual({ fromMs: now - 86_400_000, toMs: now });
    expect(resolveTimeRange({ from: '2026-01-01T00:00:00Z' }, now)).toEqual({ fromMs: Date.UTC(2026, 0, 1), toMs: now });
    expect(() => resolveTimeRange({ since: '1h', from: '2026-01-01T00:00:00Z' }, now)).toThrow(/exclude each other/);
    expect(() => resolveTimeRange({ from: '2026-01-03T00:00:00Z' }, now)).toThrow(/empty time range/);
    expect(() => resolveTimeRange({ since: '1 day' }, now)).toThrow(/--since: not a valid duration/);
  });
});

describe('progress bar', () => {
  const from = Date.UTC(2026, 0, 1);
  it('draws lines fetched and time covered on a terminal, throttled, and ends with a newline', () => {
    const written: string[] = [];
    let clock = 0;
    const bar = new ProgressBar({ isTTY: true, columns: 120, write: (s: string) => written.push(s) }, from, from + 86_400_000, () => clock);
    clock = 1000;
    bar.fetched(1500);
    bar.fetched(10); // within 100 ms: not redrawn
    clock = 2000;
    bar.covered(from + 6 * 3_600_000);
    expect(written).toHaveLength(2);
    expect(written[1]).toBe(`\r[######..................]  25%  up to 2026-01-01 06:00Z  1,510 lines fetched\u001b[K`);
    bar.done();
    expect(written.at(-1)).toBe('\n');
  });
  it('writes nothing when stderr is not a terminal', () => {
    const written: string[] = [];
    const bar = new ProgressBar({ isTTY: false, write: (s: string) => written.push(s) }, from, from + 1000);
    bar.fetched(5);
    bar.covered(from + 1000);
    bar.done();
    expect(written).toEqual([]);
  });
});

describe('replay --loki-url settings', () => {
  it('takes loki.* from a config file, flags win, and a credential flag replaces the file\'s credentials', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-replay-cfg-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, 'loki:\n  url: http://loki.example:3100\n  tenant: ops\n  bearer_token: abc\nrules:\n  paths: [/etc/rules]\n');
    const fromFile = lokiSettings(args('--config', cfg));
    expect(fromFile.loki).toMatchObject({ url: 'http://loki.example:3100', tenant: 'ops', bearerToken: 'abc' });
    expect(fromFile.rules.paths).toEqual(['/etc/rules']);
    const over = lokiSettings(args('--config', cfg, '--tenant', 'dev', '--basic-auth-user', 'me', '--basic-auth-password-file', '/pw'));
    expect(over.loki).toMatchObject({ tenant: 'dev', bearerToken: '', basicAuthUsername: 'me', basicAuthPasswordFile: '/pw' });
    expect(() => lokiSettings(args('--tenant', 'x'))).toThrow(/no Loki URL/);
    expect(() => lokiSettings(args('--loki-url', 'http://l', '--bearer-token-file', '/t', '--basic-auth-user', 'u'))).toThrow(/not both/);
  });
  it('Loki-only flags without a Loki are usage errors, not silently ignored', async () => {
    await expect(replayCommand(args('--since', '1h', 'capture.txt'))).rejects.toThrow(/--since needs --loki-url/);
    await expect(replayCommand(args('--loki-url', 'http://127.0.0.1:9', 'capture.txt'))).rejects.toThrow(/exclude each other/);
    await expect(replayCommand(args('--loki-url', 'http://127.0.0.1:9', '--limit', '0'))).rejects.toThrow(/--limit: expected a positive integer/);
  });
});
