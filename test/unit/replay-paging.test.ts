/** replay --loki-url: paging query_range as Loki limits it, chunking, merging, retries, headers. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { historyFeed, type FeedStats } from '../../src/replay/history-feed.js';
import type { HistoryEntry } from '../../src/replay/history-entry.js';
import { LokiQueryClient, LokiQueryError } from '../../src/replay/loki-query-client.js';
import { pagedQuery } from '../../src/replay/paged-query.js';
import { goDurationString, promDurationString, startLokiQueryServer, type LokiQueryServer } from '../helpers/loki-query-server.js';

const T0 = Date.UTC(2026, 0, 1);
const ns = (ms: number, rem = 0) => (BigInt(ms) * 1_000_000n + BigInt(rem)).toString();
let server: LokiQueryServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function client(url: string, over: Partial<ReturnType<typeof defaultConfig>['loki']> = {}, opts: { maxRetries?: number } = {}) {
  const slept: number[] = [];
  const c = new LokiQueryClient({
    loki: { ...defaultConfig().loki, url, ...over },
    minBackoffMs: 10, maxBackoffMs: 40, maxRetries: opts.maxRetries ?? 3,
    sleep: async (ms) => void slept.push(ms),
  });
  return { c, slept };
}

async function collect<T>(it: AsyncIterable<T[]> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) Array.isArray(x) ? out.push(...(x as T[])) : out.push(x as T);
  return out;
}

const show = (e: HistoryEntry) => `${e.ns} ${e.stream.labels.job} ${e.line}`;

describe('paging query_range', () => {
  it('returns every entry once, in order, when pages end inside a run of entries sharing a timestamp (logcli rule)', async () => {
    server = await startLokiQueryServer({ maxEntriesPerQuery: 5 });
    // Four entries at t+1ms across two streams (one line logged by both), so the first page ends inside them.
    server.seed({ job: 'a' }, [[ns(T0), 'a0'], [ns(T0 + 1), 'a1'], [ns(T0 + 1), 'a2'], [ns(T0 + 5), 'a5']]);
    server.seed({ job: 'b' }, [[ns(T0 + 1), 'b1'], [ns(T0 + 1), 'a1'], [ns(T0 + 2), 'b2'], [ns(T0 + 9, 7), 'b9']]);
    const { c } = client(server.url);
    const got = await collect(pagedQuery(c, { query: '{job=~"a|b"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 10)), limit: 5 }));
    expect(got.map(show).sort()).toEqual([
      `${ns(T0)} a a0`,
      ...['a a1', 'a a2', 'b a1', 'b b1'].map((s) => `${ns(T0 + 1)} ${s}`),
      `${ns(T0 + 2)} b b2`,
      `${ns(T0 + 5)} a a5`,
      `${ns(T0 + 9, 7)} b b9`,
    ]);
    for (let i = 1; i < got.length; i++) expect(BigInt(got[i]!.ns) >= BigInt(got[i - 1]!.ns)).toBe(true);
    // Each next page starts at the previous page's last timestamp, inclusive.
    expect(server.requests.map((r) => r.startNs.toString())).toEqual([ns(T0), ns(T0 + 1), ns(T0 + 2)]);
    expect(server.requests.map((r) => r.returned)).toEqual([5, 5, 3]);
    expect(server.requests.every((r) => r.limit === 5)).toBe(true);
  });

  it('fails clearly when more entries share one timestamp than a page holds', async () => {
    server = await startLokiQueryServer();
    server.seed({ job: 'a' }, [1, 2, 3].map((i) => [ns(T0), `same-${i}`] as [string, string]));
    const { c } = client(server.url);
    await expect(collect(pagedQuery(c, { query: '{job="a"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 1)), limit: 2 }))).rejects.toThrow(/more than 2 entries .* raise --limit/);
  });

  it('passes Loki\'s 400 answers through (limit above max_entries_limit_per_query; range above max_query_length)', async () => {
    server = await startLokiQueryServer({ maxEntriesPerQuery: 100, maxQueryLengthMs: 2 * 3_600_000 });
    const { c } = client(server.url);
    await expect(c.queryRange({ query: '{job="a"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 1000)), limit: 101 }))
      .rejects.toThrow('max entries limit per query exceeded, limit > max_entries_limit_per_query (101 > 100)');
    await expect(c.queryRange({ query: '{job="a"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 3 * 3_600_000)), limit: 10 }))
      .rejects.toThrow('the query time range exceeds the limit (query length: 3h0m0s, limit: 2h)');
    expect(goDurationString(744 * 3_600_000)).toBe('744h0m0s');
    expect(goDurationString(90_500)).toBe('1m30.5s');
    expect(promDurationString(721 * 3_600_000)).toBe('30d1h');
    expect(promDurationString(28 * 86_400_000)).toBe('4w');
  });

  it('retries 429 and 5xx with growing backoff, then succeeds; gives up after the bounded retries', async () => {
    server = await startLokiQueryServer();
    server.seed({ job: 'a' }, [[ns(T0), 'x']]);
    const { c, slept } = client(server.url);
    server.failNext(2, 429);
    server.failNext(1, 503);
    const page = await c.queryRange({ query: '{job="a"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 1)), limit: 10 });
    expect(page.entries.map((e) => e.line)).toEqual(['x']);
    expect(page.retries).toBe(3);
    expect(slept).toHaveLength(3);
    expect(slept.every((ms) => ms >= 10 && ms <= 40)).toBe(true);
    server.failNext(4, 500);
    const err = await c.queryRange({ query: '{job="a"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 1)), limit: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LokiQueryError);
    expect((err as LokiQueryError).message).toMatch(/failed after 4 tries: HTTP 500/);
  });

  it('sends the tenant and the credentials as forwarding does, and asks for structured metadata apart (categorize-labels)', async () => {
    server = await startLokiQueryServer();
    server.seed({ job: 'a', host: 'n1' }, [[ns(T0), 'with meta', { pod: 'p-1' }], [ns(T0 + 1), 'plain']]);
    const dir = mkdtempSync(join(tmpdir(), 'tas-qc-'));
    writeFileSync(join(dir, 'token'), 's3cret\n');
    const { c } = client(server.url, { tenant: 'team-a', bearerTokenFile: join(dir, 'token') });
    const page = await c.queryRange({ query: '{job="a"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 10)), limit: 10 });
    expect(server.requests[0]).toMatchObject({ tenant: 'team-a', authorization: 'Bearer s3cret', categorize: true });
    expect(page.entries.map((e) => [e.stream.key, e.line, e.metadata])).toEqual([
      ['{host="n1", job="a"}', 'with meta', { pod: 'p-1' }],
      ['{host="n1", job="a"}', 'plain', undefined],
    ]);
    const basic = client(`${server.url.replace('http://', 'http://u:p%40ss@')}/`).c;
    await basic.queryRange({ query: '{job="a"}', startNs: BigInt(ns(T0)), endNs: BigInt(ns(T0 + 10)), limit: 10 });
    expect(server.requests[1]!.authorization).toBe(`Basic ${Buffer.from('u:p@ss').toString('base64')}`);
  });
});

describe('history feed', () => {
  it('merges queries by timestamp, delivers an entry two queries share once, and walks the range chunk by chunk', async () => {
    server = await startLokiQueryServer({ maxEntriesPerQuery: 3, maxQueryLengthMs: 3_600_000 });
    const H = 3_600_000;
    const kernel: Array<[string, string]> = [];
    for (let i = 0; i < 40; i++) kernel.push([ns(T0 + i * 6 * 60_000), i % 4 === 0 ? `nvme timeout ${i}` : `kernel ${i}`]);
    server.seed({ job: 'k' }, kernel);
    server.seed({ job: 'e' }, [[ns(T0 + 31 * 60_000), 'etcd slow'], [ns(T0 + 151 * 60_000), 'etcd slow 2']]);
    const { c } = client(server.url);
    const stats: FeedStats = { fetched: 0, duplicates: 0, requests: 0, chunks: 0 };
    const covered: number[] = [];
    const feed = historyFeed(c, { queries: ['{job="k"}', '{job="k"} |= "nvme"', '{job="e"}'], fromMs: T0, toMs: T0 + 4 * H, chunkMs: H, limit: 3, onChunk: (t) => covered.push(t) }, stats);
    const got: HistoryEntry[] = [];
    for await (const e of feed) {
      if (got.length === 0) {
        // Streaming: the first entry comes before anything past the first chunk was asked for.
        expect(server.requests.every((r) => r.endNs <= BigInt(ns(T0 + H)))).toBe(true);
      }
      got.push(e);
    }
    expect(got.map((e) => e.line)).toEqual([...kernel.slice(0, 6).map((k) => k[1]), 'etcd slow', ...kernel.slice(6, 26).map((k) => k[1]), 'etcd slow 2', ...kernel.slice(26).map((k) => k[1])]);
    expect(got).toHaveLength(42);
    expect(stats.duplicates).toBe(10);
    expect(stats.chunks).toBe(4);
    expect(covered).toEqual([T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H]);
    expect(server.requests.every((r) => r.status === 200 && r.endNs - r.startNs <= BigInt(H) * 1_000_000n)).toBe(true);
  });

  it('a chunk longer than Loki\'s max_query_length fails with Loki\'s message', async () => {
    server = await startLokiQueryServer({ maxQueryLengthMs: 3_600_000 });
    const { c } = client(server.url);
    await expect(collect(historyFeed(c, { queries: ['{job="k"}'], fromMs: T0, toMs: T0 + 7_200_000, chunkMs: 7_200_000, limit: 10 })))
      .rejects.toThrow(/query time range exceeds the limit \(query length: 2h0m0s, limit: 1h\)/);
  });
});
