/**
 * Structured-metadata names as Loki keeps them. Talos records carry fields
 * such as `node-name` or `compact-revision`; Loki ≥ 3.4 rewrites names that
 * are not valid Prometheus label names at ingestion, and older versions
 * store them but cannot query them by name. Sanitising here makes every
 * Loki version store the same, queryable name: invalid characters become
 * `_`, and a leading digit gets a `_` prefix.
 */
const VALID = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const cache = new Map<string, string>();
/** Field names come from a small, fixed vocabulary; the bound only guards against a pathological sender. */
const CACHE_MAX = 1024;

export function lokiMetadataName(name: string): string {
  if (VALID.test(name)) return name;
  let out = cache.get(name);
  if (out === undefined) {
    out = name.replace(/[^a-zA-Z0-9_]/g, '_');
    if (out === '' || (out.charCodeAt(0) >= 48 && out.charCodeAt(0) <= 57)) out = `_${out}`;
    if (cache.size < CACHE_MAX) cache.set(name, out);
  }
  return out;
}

/** `md` itself when every name is valid (the usual case), else a copy with sanitised names. */
export function lokiMetadata(md: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  for (const name in md) {
    if (!VALID.test(name)) {
      const out: Record<string, string> = {};
      for (const n in md) out[lokiMetadataName(n)] = md[n]!;
      return out;
    }
  }
  return md;
}
