/** `${VAR}` expansion in the config file (src/config/env-expand.ts) and `check config` (src/config/check.ts). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfigFile } from '../../src/config/check.js';
import { expandEnv, expandEnvInDocument } from '../../src/config/env-expand.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'tas-env-'));
let n = 0;
function file(text: string): string {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}

describe('expandEnv', () => {
  const env = { NODE_NAME: 'talos-cp-1', EMPTY: '', PW: 'p$ss' };
  it('${VAR}, ${VAR:-default} and $$', () => {
    expect(expandEnv('${NODE_NAME}', 'k', env)).toBe('talos-cp-1');
    expect(expandEnv('node-${NODE_NAME}-x', 'k', env)).toBe('node-talos-cp-1-x');
    expect(expandEnv('${MISSING:-fallback}', 'k', env)).toBe('fallback');
    expect(expandEnv('${EMPTY:-fallback}', 'k', env)).toBe('fallback');
    expect(expandEnv('${MISSING:-}', 'k', env)).toBe('');
    expect(expandEnv('${EMPTY}', 'k', env)).toBe('');
    expect(expandEnv('cost: $$5 and $${NODE_NAME}', 'k', env)).toBe('cost: $5 and ${NODE_NAME}');
  });

  it('bare $NAME and a lone $ stay as written; an expanded value is not expanded again', () => {
    expect(expandEnv('pa$word$', 'k', env)).toBe('pa$word$');
    expect(expandEnv('$NODE_NAME', 'k', env)).toBe('$NODE_NAME');
    expect(expandEnv('${PW}', 'k', env)).toBe('p$ss');
  });

  it('an unset variable is an error naming the variable and the key', () => {
    expect(() => expandEnv('${NOPE}', 'loki.basic_auth.password', env)).toThrow(ConfigError);
    expect(() => expandEnv('${NOPE}', 'loki.basic_auth.password', env)).toThrow('config: loki.basic_auth.password: environment variable NOPE is not set (use ${NOPE:-} to allow it to be empty)');
  });

  it('malformed references are errors that do not print the value', () => {
    expect(() => expandEnv('ab${cd', 'k', env)).toThrow(/^config: k: unterminated "\$\{"/);
    expect(() => expandEnv('x${secret-part}', 'k', env)).toThrow(/^config: k: "\$\{…\}" that is not a variable reference/);
    expect(() => expandEnv('x${secret-part}', 'k', env)).not.toThrow(/secret-part/);
  });

  it('walks mappings and lists, values only, naming the key path', () => {
    const doc = { rules: { external_labels: { node: '${NODE_NAME}' } }, alertmanager: { urls: ['http://${NODE_NAME}:9093'] }, '${NODE_NAME}': 1 };
    expect(expandEnvInDocument(doc, env)).toEqual({ rules: { external_labels: { node: 'talos-cp-1' } }, alertmanager: { urls: ['http://talos-cp-1:9093'] }, '${NODE_NAME}': 1 });
    expect(() => expandEnvInDocument({ alertmanager: { urls: ['x', '${NOPE}'] } }, env)).toThrow('config: alertmanager.urls[1]: environment variable NOPE is not set');
  });
});

describe('loadConfig expands the environment', () => {
  afterEach(() => {
    delete process.env.TAS_TEST_NODE;
    delete process.env.TAS_TEST_PW;
  });

  it('for secrets and the node name', () => {
    process.env.TAS_TEST_NODE = 'talos-w-3';
    process.env.TAS_TEST_PW = 'hunter2';
    const cfg = loadConfig(new Map([['--config', [file('rules:\n  external_labels: { node: "${TAS_TEST_NODE}" }\nloki:\n  basic_auth:\n    password: ${TAS_TEST_PW}\n')]]]));
    expect(cfg.rules.externalLabels).toEqual({ node: 'talos-w-3' });
    expect(cfg.loki.basicAuthPassword).toBe('hunter2');
  });

  it('refuses to start on an unset variable, naming it and the key', () => {
    expect(() => loadConfig(new Map([['--config', [file('rules:\n  external_labels: { node: "${TAS_TEST_NODE}" }\n')]]]))).toThrow(
      'config: rules.external_labels.node: environment variable TAS_TEST_NODE is not set',
    );
  });
});

describe('checkConfigFile (check config FILE)', () => {
  it('a valid file is ok', () => {
    expect(checkConfigFile(file('talos:\n  host_field: node-name\nrules:\n  unsupported: error\n'))).toEqual({ ok: true, errors: [] });
  });

  it('reports a problem in every section, each naming its key, and never a secret value', () => {
    const r = checkConfigFile(file('ingest:\n  lisen: x\nloki:\n  url: ftp://nope\n  basic_auth:\n    password: 12345\nrules:\n  external_labels: { node: "${TAS_CHECK_UNSET}" }\n'), {});
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([
      'config: ingest.lisen: unknown setting (see docs/configuration.md)',
      expect.stringMatching(/^config: loki\.url: expected an http\(s\) URL/),
      'config: rules.external_labels.node: environment variable TAS_CHECK_UNSET is not set (use ${TAS_CHECK_UNSET:-} to allow it to be empty)',
    ]);
  });

  it('cross-field rules and the files the config names', () => {
    const r = checkConfigFile(file(`http:\n  admin:\n    enabled: true\n    token_file: ${join(dir, 'missing-token')}\n`));
    expect(r).toEqual({ ok: false, errors: [`config: http.admin.token_file: cannot read ${join(dir, 'missing-token')}: ENOENT`] });
    expect(checkConfigFile(file('alertmanager:\n  min_backoff: 1m\n  max_backoff: 1s\n')).errors).toEqual(['config: alertmanager.min_backoff: must not exceed alertmanager.max_backoff']);
  });

  it('unreadable files and bad YAML', () => {
    expect(checkConfigFile(join(dir, 'nope.yaml'))).toEqual({ ok: false, errors: [`${join(dir, 'nope.yaml')}: cannot read: ENOENT`] });
    const bad = checkConfigFile(file('a: [\n'));
    expect(bad.ok).toBe(false);
    expect(bad.errors[0]).toMatch(/not valid YAML/);
  });
});
