/**
 * A bounded cache that forgets what is no longer used: entries live in a
 * young and an old generation; a hit in the old one moves the entry to the
 * young one; when the young one is full the old one is dropped whole and the
 * young one becomes old. So at most 2 × `generation` entries are held, entries
 * in use stay (and keep their identity), and a burst of one-off keys (a sender
 * inventing label values) leaves after two generations instead of holding
 * memory for good — with O(1) work per access and no per-entry bookkeeping.
 */
export class TwoGenerationMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly generation: number) {}

  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.set(key, o);
    }
    return o;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
