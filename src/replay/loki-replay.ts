/**
 * `replay --loki-url`: backtest a rule set on the history Loki holds. The
 * rules' selectors and line filters become log queries (pushdown.ts), their
 * answers one ordered, deduplicated feed (history-feed.ts), fed to the
 * engine on a simulated clock that starts at `from` and ends at `to`
 * (timeline.ts). Windows start empty at `from`: history before it is not
 * read, so an alert already active then shows up as it re-forms.
 */
import type { RuleSet } from '../rules/rule-file.js';
import { historyFeed, type FeedStats } from './history-feed.js';
import { toLogEvent } from './history-entry.js';
import type { LokiQueryClient } from './loki-query-client.js';
import { historyQueries, type HistoryQuery } from './pushdown.js';
import { TimelineRecorder, type ReplayEntry } from './timeline.js';

export interface LokiReplayOptions {
  fromMs: number;
  /** Exclusive end of the history read; the clock ticks up to it. */
  toMs: number;
  /** Time per request range (≤ Loki's max_query_length). */
  chunkMs: number;
  /** Entries per request (≤ Loki's max_entries_limit_per_query). */
  limit: number;
  tickMs?: number;
  onPage?: (entries: number) => void;
  onChunk?: (coveredToMs: number) => void;
}

export interface LokiReplayResult {
  queries: HistoryQuery[];
  stats: FeedStats;
  events: number;
  timeline: ReplayEntry[];
}

export async function replayFromLoki(client: Pick<LokiQueryClient, 'queryRange'>, rules: RuleSet, o: LokiReplayOptions): Promise<LokiReplayResult> {
  if (!(o.toMs > o.fromMs)) throw new Error(`empty time range: from ${new Date(o.fromMs).toISOString()} is not before to ${new Date(o.toMs).toISOString()}`);
  if (!(o.limit >= 1)) throw new Error('limit must be at least 1');
  const queries = historyQueries(rules);
  const stats: FeedStats = { fetched: 0, duplicates: 0, requests: 0, chunks: 0 };
  const recorder = new TimelineRecorder(rules, o.fromMs, { tickMs: o.tickMs ?? 1000 });
  const feed = historyFeed(client, {
    queries: queries.map((q) => q.logql),
    fromMs: o.fromMs,
    toMs: o.toMs,
    chunkMs: o.chunkMs,
    limit: o.limit,
    onPage: o.onPage,
    onChunk: o.onChunk,
  }, stats);
  for await (const e of feed) recorder.ingest(toLogEvent(e));
  // The history ends at `to`: play out `for`, expiry and resolution up to it, not beyond.
  recorder.advanceTo(o.toMs);
  return { queries, stats, events: recorder.events, timeline: recorder.timeline };
}
