/**
 * Strict validation with the kubernetes-models schemas. Their compiled
 * validators check types, enums and required fields but let unknown fields
 * through (Kubernetes' OpenAPI schemas do not say `additionalProperties:
 * false`), so `hostNetwrk: true` would pass. The API server rejects it under
 * strict field validation (kubectl's default since 1.27), so the chart tests do too.
 *
 * How: the manifest is validated through proxies that record every property the
 * generated validator looks at. A validator reads each property its schema
 * defines (`data.hostNetwork !== undefined`) and enumerates the keys of maps
 * (labels, resources: `additionalProperties` schemas). So a key of a
 * structured object that the validator never read is not in the schema.
 * Objects the validator neither reads nor enumerates are free-form in the
 * schema (e.g. `x-kubernetes-preserve-unknown-fields`) and are not judged.
 */

/** A kubernetes-models class: its prototype's validate() runs the compiled schema on `this`. */
export interface ValidatingModel {
  prototype: { validate(): void };
}

interface Tracked {
  path: string;
  keys: string[];
  read: Set<string>;
  enumerated: boolean;
}

function track(value: unknown, path: string, nodes: Tracked[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v, i) => track(v, `${path}[${i}]`, nodes));
  const node: Tracked = { path, keys: Object.keys(value), read: new Set(), enumerated: false };
  nodes.push(node);
  const copy = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, track(v, path === '' ? k : `${path}.${k}`, nodes)]));
  return new Proxy(copy, {
    get(t, p, r) {
      if (typeof p === 'string') node.read.add(p);
      return Reflect.get(t, p, r) as unknown;
    },
    has(t, p) {
      if (typeof p === 'string') node.read.add(p);
      return Reflect.has(t, p);
    },
    ownKeys(t) {
      node.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

/** Dotted paths of fields in `obj` that the model's schema does not define. */
export function unknownFields(model: ValidatingModel, obj: object): string[] {
  const nodes: Tracked[] = [];
  const proxied = track(obj, '', nodes);
  let schemaError: unknown;
  try {
    model.prototype.validate.call(proxied);
  } catch (e) {
    schemaError = e;
  }
  const unknown: string[] = [];
  for (const n of nodes) {
    if (n.enumerated || n.read.size === 0) continue; // a map, or free-form in the schema
    for (const k of n.keys) if (!n.read.has(k)) unknown.push(n.path === '' ? k : `${n.path}.${k}`);
  }
  if (schemaError !== undefined && unknown.length === 0) throw schemaError;
  return unknown;
}

/** Schema validation that also rejects unknown fields; throws naming them. */
export function validateStrict(model: ValidatingModel, obj: object): void {
  const unknown = unknownFields(model, obj);
  if (unknown.length > 0) throw new Error(`unknown field(s): ${unknown.join(', ')}`);
  model.prototype.validate.call(obj);
}
