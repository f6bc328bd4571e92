/**
 * Config from a YAML file and command-line flags (flags win), over the
 * defaults in schema.ts. Secrets referenced by *_file settings are read here,
 * once, so the rest of the program only sees values.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { applyDocument, applyFlag, ConfigError, defaultConfig, FIELDS, validate, type Config } from './schema.js';

function readSecretFile(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Resolve password_file/bearer_token_file into the value fields. */
function resolveSecrets(cfg: Config): void {
  for (const section of ['alertmanager', 'loki'] as const) {
    const s = cfg[section];
    if (s.basicAuthPasswordFile !== '') s.basicAuthPassword = readSecretFile(s.basicAuthPasswordFile, `${section}.basic_auth.password_file`);
    if (s.bearerTokenFile !== '') s.bearerToken = readSecretFile(s.bearerTokenFile, `${section}.bearer_token_file`);
  }
}

/** Defaults, then the `--config` file, then the other flags (`--loki-url` → its values, in order). */
export function loadConfig(flags: ReadonlyMap<string, readonly string[]>): Config {
  const cfg = defaultConfig();
  const file = flags.get('--config')?.at(-1);
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError('--config', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError('--config', `${file} is not valid YAML: ${(e as Error).message}`);
    }
    applyDocument(cfg, doc);
  }
  for (const [flag, values] of flags) if (flag !== '--config' && FIELDS.some((f) => f.flag === flag)) applyFlag(cfg, flag, [...values]);
  validate(cfg);
  resolveSecrets(cfg);
  return cfg;
}
