/**
 * Every entry of one log query over [start, end), page by page, in timestamp
 * order. Loki answers at most `limit` entries per request
 * (max_entries_limit_per_query, 5000 by default), so a full page is followed
 * by a request starting at the last entry's timestamp — start is inclusive,
 * and several entries may share that nanosecond, so the entries already seen
 * at that exact timestamp are dropped from the next page. This is logcli's
 * rule (grafana/loki pkg/logcli/query/query.go, the batching loop, and
 * pkg/logcli/print/print.go, printStream's lastEntry check); logcli compares
 * lines only, we compare stream and line, since two streams may log the
 * same line at the same time. Only one page is held at a time.
 */
import { entryIdentity, type HistoryEntry } from './history-entry.js';
import type { LokiQueryClient } from './loki-query-client.js';

export interface PagedQueryOptions {
  query: string;
  startNs: bigint;
  endNs: bigint;
  limit: number;
  /** Called after each page with its size (progress, stats). */
  onPage?: (entries: number) => void;
}

export async function* pagedQuery(client: Pick<LokiQueryClient, 'queryRange'>, o: PagedQueryOptions): AsyncGenerator<HistoryEntry[]> {
  let start = o.startNs;
  /** Entries of the last page at its last timestamp: they come again in the next page. */
  let seenAtLast = new Set<string>();
  let lastNs: string | undefined;
  for (;;) {
    const { entries } = await client.queryRange({ query: o.query, startNs: start, endNs: o.endNs, limit: o.limit });
    o.onPage?.(entries.length);
    const fresh = lastNs === undefined ? entries : entries.filter((e) => e.ns !== lastNs || !seenAtLast.has(entryIdentity(e)));
    if (fresh.length > 0) yield fresh;
    // A page short of the limit is the last one.
    if (entries.length < o.limit) return;
    const last = entries[entries.length - 1]!;
    const atLast = entries.filter((e) => e.ns === last.ns);
    if (atLast.length >= o.limit) {
      // The next page would start at the same instant and return the same entries (logcli stops here too).
      throw new Error(`more than ${o.limit} entries of ${o.query} at ${last.ns} ns: raise --limit (Loki's max_entries_limit_per_query permitting)`);
    }
    const nextSeen = new Set(atLast.map(entryIdentity));
    // Entries at that instant from earlier pages are in the next answer too.
    if (last.ns === lastNs) for (const k of seenAtLast) nextSeen.add(k);
    seenAtLast = nextSeen;
    lastNs = last.ns;
    start = BigInt(last.ns);
  }
}
