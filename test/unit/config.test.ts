import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configFlags, parseCommand } from '../../src/cli/args.js';
import { RUN_COMMAND } from '../../src/cli/commands.js';
import { ConfigError, configDocs, defaultConfig, FIELDS, redactUrl } from '../../src/config/schema.js';

function withFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tas-config-'));
  const f = join(dir, 'config.yaml');
  writeFileSync(f, text);
  return f;
}

describe('configuration', () => {
  it('has the documented defaults', () => {
    const cfg = loadConfig(new Map());
    expect(cfg.ingest.listen).toBe('0.0.0.0:6000');
    expect(cfg.http.listen).toBe('0.0.0.0:8080');
    expect(cfg.rules.paths).toEqual(['./rules']);
    expect(cfg.ingest.maxLineBytes).toBe(256 * 1024);
    expect(cfg.talos.job).toBe('talos-kernel');
    expect(cfg.rules.resendDelayMs).toBe(60_000);
    expect(cfg.alertmanager.queueCapacity).toBe(10_000);
    expect(cfg.alertmanager.maxBatch).toBe(256);
    expect(cfg.loki.spoolMaxBytes).toBe(1024 * 1024 * 1024);
  });

  it('reads a YAML file; flags win over the file; repeatable flags collect', () => {
    const f = withFile(`
ingest:
  listen: 127.0.0.1:7000
  max_line_bytes: 64KiB
alertmanager:
  urls: [http://am-0:9093]
  timeout: 5s
loki:
  url: http://loki:3100
talos:
  static_labels: { cluster: homelab }
`);
    const args = parseCommand(RUN_COMMAND, ['--config', f, '--alertmanager-url', 'http://a:9093', '--alertmanager-url=http://b:9093', '--listen', '127.0.0.1:7001']);
    const cfg = loadConfig(configFlags(args!));
    expect(cfg.ingest.listen).toBe('127.0.0.1:7001');
    expect(cfg.ingest.maxLineBytes).toBe(65536);
    expect(cfg.alertmanager.urls).toEqual(['http://a:9093', 'http://b:9093']);
    expect(cfg.alertmanager.timeoutMs).toBe(5000);
    expect(cfg.loki.url).toBe('http://loki:3100');
    expect(cfg.talos.staticLabels).toEqual({ cluster: 'homelab' });
  });

  it('fails at start naming the key for unknown keys and bad values', () => {
    const fail = (text: string) => {
      try {
        loadConfig(new Map([['--config', [withFile(text)]]]));
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(fail('ingest:\n  lisen: 1.2.3.4:5\n')).toMatch(/ingest\.lisen: unknown setting/);
    expect(fail('nope: 1\n')).toMatch(/nope: unknown setting/);
    expect(fail('alertmanager:\n  timeout: 5 minutes\n')).toMatch(/alertmanager\.timeout: .*duration/);
    expect(fail('loki:\n  format: xml\n')).toMatch(/loki\.format: expected one of protobuf, json/);
    expect(fail('ingest:\n  max_connections: -1\n')).toMatch(/ingest\.max_connections: expected a number from 1/);
    expect(fail('alertmanager:\n  urls: [ftp://x]\n')).toMatch(/alertmanager\.urls: expected an http\(s\) URL/);
    expect(fail('http:\n  admin:\n    enabled: true\n')).toMatch(/http\.admin\.token_file: required/);
    expect(fail('ingest:\n  listen: nope\n')).toMatch(/ingest\.listen: expected "host:port"/);
  });

  it('never prints a secret value in an error', () => {
    const f = withFile('loki:\n  basic_auth:\n    password: 12345\n');
    expect(() => loadConfig(new Map([['--config', [f]]]))).toThrow(/loki\.basic_auth\.password: expected a string, got a value$/);
    expect(redactUrl('http://user:hunter2@loki:3100/x')).toBe('http://<redacted>@loki:3100/x');
  });

  it('documents every setting in docs/configuration.md, generated from the schema', () => {
    const doc = readFileSync('docs/configuration.md', 'utf8');
    expect(doc).toContain(configDocs());
    for (const f of FIELDS) expect(doc).toContain(`\`${f.key}\``);
    expect(Object.keys(defaultConfig())).toEqual(['ingest', 'talos', 'http', 'rules', 'alertmanager', 'loki', 'state', 'log']);
  });
});
