/**
 * `check config FILE`, like `amtool check-config` and `promtool check config`:
 * everything `run` would reject in the config file, without starting anything.
 * Each top-level section is checked on its own so one bad section does not
 * hide the next; then the cross-field rules and the files the config names
 * (secrets, admin token) are checked. Secret values are never printed.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { expandEnvInDocument } from './env-expand.js';
import { applyDocument, ConfigError, defaultConfig, validate, type Config } from './schema.js';

export interface ConfigCheckResult {
  ok: boolean;
  /** One line per problem, naming the key (`config: loki.url: not a URL: …`). */
  errors: string[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The files a valid config names, with the key naming each. */
function referencedFiles(cfg: Config): Array<[key: string, path: string]> {
  const out: Array<[string, string]> = [];
  for (const s of ['alertmanager', 'loki'] as const) {
    const c = cfg[s];
    out.push([`${s}.basic_auth.password_file`, c.basicAuthPasswordFile], [`${s}.bearer_token_file`, c.bearerTokenFile]);
    out.push([`${s}.tls.ca_file`, c.tls.caFile], [`${s}.tls.cert_file`, c.tls.certFile], [`${s}.tls.key_file`, c.tls.keyFile]);
  }
  if (cfg.http.adminEnabled) out.push(['http.admin.token_file', cfg.http.adminTokenFile]);
  return out.filter(([, p]) => p !== '');
}

export function checkConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigCheckResult {
  const errors: string[] = [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, errors: [`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? message(e)}`] };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return { ok: false, errors: [`${path}: not valid YAML: ${message(e)}`] };
  }
  const cfg = defaultConfig();
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
    return { ok: false, errors: [new ConfigError('(top level)', 'expected a mapping').message] };
  }
  for (const [k, v] of Object.entries((doc ?? {}) as Record<string, unknown>)) {
    try {
      applyDocument(cfg, expandEnvInDocument({ [k]: v }, env));
    } catch (e) {
      errors.push(message(e));
    }
  }
  if (errors.length === 0) {
    try {
      validate(cfg);
    } catch (e) {
      errors.push(message(e));
    }
    for (const [key, file] of referencedFiles(cfg)) {
      try {
        accessSync(file, constants.R_OK);
      } catch (e) {
        errors.push(new ConfigError(key, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? message(e)}`).message);
      }
    }
  }
  return { ok: errors.length === 0, errors };
}
