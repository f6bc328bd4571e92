/**
 * A string built by `+=` is a rope (V8 cons string: a tree of pieces) until
 * something needs it whole. Keys the rule engine keeps for the life of a
 * series (alert keys, group keys; made once per series, see the memos) are
 * made flat when built: used as a property key, V8 internalizes the string,
 * and the rope becomes a thin reference to one flat copy, its pieces left to
 * the garbage collector. Reading it as a number, the older trick, no longer
 * flattens in Node 20. Not for strings made per line or per evaluation:
 * an internalized copy is allocated in the old generation.
 */
const probe: Record<string, unknown> = Object.create(null) as Record<string, unknown>;

export function flat(s: string): string {
  void probe[s];
  return s;
}
