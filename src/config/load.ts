/**
 * Config from a YAML file and command-line flags (flags win), over the
 * defaults in schema.ts. Secrets referenced by *_file settings are read here,
 * once, so the rest of the program only sees values.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { readSecretFile } from './secret-file.js';
import { applyDocument, applyFlag, ConfigError, defaultConfig, FIELDS, validate, type Config } from './schema.js';

/**
 * Resolve password_file/bearer_token_file into the value fields, and clear
 * the file fields: downstream sees one secret, not the value and its file as
 * if both had been set ("at most one of … may be set" refused a file alone).
 */
function resolveSecrets(cfg: Config): void {
  for (const section of ['alertmanager', 'loki'] as const) {
    const s = cfg[section];
    if (s.basicAuthPasswordFile !== '') {
      if (s.basicAuthPassword !== '') throw new ConfigError(`${section}.basic_auth`, 'at most one of password and password_file may be set');
      s.basicAuthPassword = readSecretFile(s.basicAuthPasswordFile, `${section}.basic_auth.password_file`);
      s.basicAuthPasswordFile = '';
    }
    if (s.bearerTokenFile !== '') {
      if (s.bearerToken !== '') throw new ConfigError(`${section}.bearer_token`, 'at most one of bearer_token and bearer_token_file may be set');
      s.bearerToken = readSecretFile(s.bearerTokenFile, `${section}.bearer_token_file`);
      s.bearerTokenFile = '';
    }
  }
  // Read now so a missing or empty token file fails the start before any port opens.
  if (cfg.http.adminEnabled) readSecretFile(cfg.http.adminTokenFile, 'http.admin.token_file');
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
