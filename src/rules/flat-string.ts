/**
 * A string built by `+=` is a rope (V8 cons string: a tree of pieces) until
 * something needs it whole. Strings the rule engine keeps for long (alert
 * keys, group keys, rendered annotations, evidence text) are made flat once
 * when built: used as a property key, V8 internalizes the string, and the
 * rope becomes a thin reference to one flat copy, its pieces left to the
 * garbage collector (a heap snapshot showed ~50 000 rope pieces held by
 * annotations and keys). Reading it as a number, the older trick, no longer
 * flattens in Node 20.
 */
const probe: Record<string, unknown> = Object.create(null) as Record<string, unknown>;

export function flat(s: string): string {
  void probe[s];
  return s;
}
