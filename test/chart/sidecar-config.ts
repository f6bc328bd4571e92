/**
 * The rendered config.yaml, loaded exactly as the sidecar loads its config file
 * (src/config/schema.ts), so a chart key the sidecar does not know fails here.
 *
 * PENDING_KEYS: settings of the agreed product-setting contract that the chart
 * renders but src/config/schema.ts may not define yet (they land in another
 * branch). While a key is missing from FIELDS it is taken out before loading
 * and reported by `pendingKeys()`; once FIELDS has it, it is loaded and
 * validated like every other key. Remove entries when they land.
 */
import { parse as parseYaml } from 'yaml';
import { applyDocument, defaultConfig, FIELDS, validate, type Config } from '../../src/config/schema.js';

export const PENDING_KEYS: readonly string[] = [];

/** Contract keys src does not define yet. */
export function pendingKeys(): string[] {
  return PENDING_KEYS.filter((k) => !FIELDS.some((f) => f.key === k));
}

function dropPath(doc: Record<string, unknown>, key: string): unknown {
  const parts = key.split('.');
  let o: Record<string, unknown> | undefined = doc;
  for (const p of parts.slice(0, -1)) {
    const next: unknown = o?.[p];
    o = next !== null && typeof next === 'object' ? (next as Record<string, unknown>) : undefined;
  }
  const last = parts[parts.length - 1]!;
  const value = o?.[last];
  if (o !== undefined) delete o[last];
  return value;
}

export interface LoadedConfig {
  cfg: Config;
  /** The YAML as rendered (pending keys included). */
  raw: Record<string, unknown>;
  /** Values of pending keys that were taken out before loading. */
  pending: Record<string, unknown>;
}

export function loadRenderedConfig(text: string): LoadedConfig {
  const raw = parseYaml(text) as Record<string, unknown>;
  const doc = parseYaml(text) as Record<string, unknown>;
  const pending: Record<string, unknown> = {};
  for (const k of pendingKeys()) {
    const v = dropPath(doc, k);
    if (v !== undefined) pending[k] = v;
  }
  const cfg = defaultConfig();
  applyDocument(cfg, doc);
  validate(cfg);
  return { cfg, raw, pending };
}
