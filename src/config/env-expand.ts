/**
 * Environment variables in the config file, for secrets and the node name
 * (`external_labels: { node: ${NODE_NAME} }` from the Downward API).
 *
 * Syntax as Prometheus's `--enable-feature=expand-external-labels` and Loki's
 * `-config.expand-env`: `${VAR}` is the variable's value, `$$` is a literal
 * `$`, and `${VAR:-default}` (Loki's envsubst form) gives a fallback. Two
 * deliberate differences, both so a mistake fails at start instead of later:
 *   - `${VAR}` with VAR unset is an error naming the variable and the key
 *     (Prometheus would substitute ""; write `${VAR:-}` for that). An empty
 *     password or node name otherwise shows up only as 401s or merged alerts.
 *   - a bare `$NAME` (no braces) stays as written, so a `$` inside a literal
 *     password is never eaten.
 * Expansion applies to string values of the parsed YAML, never to keys, and
 * happens once: an expanded value is not expanded again.
 */

import { ConfigError } from './schema.js';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Expand `${VAR}`, `${VAR:-default}` and `$$` in one value; `key` names it in errors. */
export function expandEnv(value: string, key: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!value.includes('$')) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = value[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next !== '{') {
      out += c;
      continue;
    }
    const end = value.indexOf('}', i + 2);
    if (end === -1) throw new ConfigError(key, `unterminated "\${" (write "$$" for a literal "$")`);
    const body = value.slice(i + 2, end);
    const dflt = body.indexOf(':-');
    const name = dflt === -1 ? body : body.slice(0, dflt);
    if (!VAR_NAME.test(name)) throw new ConfigError(key, `"\${…}" that is not a variable reference (names are letters, digits and _; write "$$" for a literal "$")`);
    const v = env[name];
    if (v !== undefined && (v !== '' || dflt === -1)) out += v;
    else if (dflt !== -1) out += body.slice(dflt + 2);
    else throw new ConfigError(key, `environment variable ${name} is not set (use \${${name}:-} to allow it to be empty)`);
    i = end;
  }
  return out;
}

/**
 * Expand every string value of a parsed YAML document (mappings and lists,
 * recursively). Returns a new document; `prefix` is the key path for errors.
 */
export function expandEnvInDocument(doc: unknown, env: NodeJS.ProcessEnv = process.env, prefix = ''): unknown {
  if (typeof doc === 'string') return expandEnv(doc, prefix || '(top level)', env);
  if (Array.isArray(doc)) return doc.map((v, i) => expandEnvInDocument(v, env, `${prefix}[${i}]`));
  if (doc !== null && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) out[k] = expandEnvInDocument(v, env, prefix ? `${prefix}.${k}` : k);
    return out;
  }
  return doc;
}
