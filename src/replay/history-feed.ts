/**
 * One ordered feed of history out of several log queries. The time range is
 * cut into chunks (each at most the chunk length, which must stay within
 * Loki's max_query_length, 721h by default); within a chunk every query is
 * paged and the pages are merged by timestamp (k-way merge, one page per
 * query in memory), and all queries finish a chunk before any starts the
 * next. Memory is bounded by queries × limit entries whatever the range.
 *
 * Two queries can return the same entry (two rules on the same stream with
 * different filters): at each timestamp an entry (stream, line) is delivered
 * once.
 */
import { compareEntries, entryIdentity, nsOfMs, type HistoryEntry } from './history-entry.js';
import type { LokiQueryClient } from './loki-query-client.js';
import { pagedQuery } from './paged-query.js';

export interface HistoryFeedOptions {
  queries: readonly string[];
  fromMs: number;
  /** Exclusive. */
  toMs: number;
  chunkMs: number;
  limit: number;
  /** After each chunk: the time covered so far. */
  onChunk?: (coveredToMs: number) => void;
  /** After each page: entries fetched. */
  onPage?: (entries: number) => void;
}

export interface FeedStats {
  fetched: number;
  duplicates: number;
  requests: number;
  chunks: number;
}

interface Cursor {
  pages: AsyncGenerator<HistoryEntry[]>;
  page: HistoryEntry[];
  i: number;
}

async function advance(c: Cursor): Promise<boolean> {
  for (;;) {
    if (c.i < c.page.length) return true;
    const next = await c.pages.next();
    if (next.done === true) return false;
    c.page = next.value;
    c.i = 0;
  }
}

export async function* historyFeed(client: Pick<LokiQueryClient, 'queryRange'>, o: HistoryFeedOptions, stats?: FeedStats): AsyncGenerator<HistoryEntry> {
  if (!(o.chunkMs > 0)) throw new Error('chunk length must be positive');
  let lastMs = -1;
  let lastRem = -1;
  const seenNow = new Set<string>();
  // One query cannot duplicate itself (pagedQuery drops its page overlaps).
  const dedupe = o.queries.length > 1;
  for (let from = o.fromMs; from < o.toMs; from += o.chunkMs) {
    const to = Math.min(o.toMs, from + o.chunkMs);
    const all: Cursor[] = [];
    for (const query of o.queries) {
      all.push({
        pages: pagedQuery(client, {
          query, startNs: nsOfMs(from), endNs: nsOfMs(to), limit: o.limit,
          onPage: (n) => {
            if (stats !== undefined) {
              stats.requests++;
              stats.fetched += n;
            }
            o.onPage?.(n);
          },
        }),
        page: [],
        i: 0,
      });
    }
    // First pages of the chunk in parallel; later pages as each query's page runs out.
    const ready = await Promise.all(all.map(advance));
    const cursors = all.filter((_, k) => ready[k]);
    while (cursors.length > 0) {
      // Few queries (one per distinct selector): a scan beats a heap here.
      let best = 0;
      for (let k = 1; k < cursors.length; k++) {
        if (compareEntries(cursors[k]!.page[cursors[k]!.i]!, cursors[best]!.page[cursors[best]!.i]!) < 0) best = k;
      }
      const c = cursors[best]!;
      const e = c.page[c.i++]!;
      if (!(await advance(c))) cursors.splice(best, 1);
      if (dedupe) {
        if (e.ms !== lastMs || e.nsRem !== lastRem) {
          lastMs = e.ms;
          lastRem = e.nsRem;
          seenNow.clear();
        }
        const id = entryIdentity(e);
        if (seenNow.has(id)) {
          if (stats !== undefined) stats.duplicates++;
          continue;
        }
        seenNow.add(id);
      }
      yield e;
    }
    if (stats !== undefined) stats.chunks++;
    o.onChunk?.(to);
  }
}
