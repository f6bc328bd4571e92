/**
 * A stand-in for Loki's read path for tests: stores entries (pushed as JSON
 * to /loki/api/v1/push, or seeded directly) and answers
 * GET /loki/api/v1/query_range for log queries with Loki's JSON shape and
 * limits:
 *   - `{"status":"success","data":{"resultType":"streams","result":[{"stream":{…},"values":[["ns","line"]]}],"stats":{…}}}`
 *   - start inclusive, end exclusive; start/end read as Loki reads them
 *     (pkg/loghttp/params.go parseTimestamp); limit default 100;
 *     direction forward or backward (default backward, as Loki)
 *   - `limit` above max_entries_limit_per_query and a range longer than
 *     max_query_length answered 400 with Loki's messages
 *     (pkg/util/validation/validate.go ErrMaxEntriesLimit / ErrQueryTooLong)
 *   - entries identical to a stored one (same stream, time and line) dropped at push, as Loki does
 *   - structured metadata: with `X-Loki-Response-Encoding-Flags: categorize-labels`
 *     as a third value element `{"structuredMetadata":{…}}`; without it merged
 *     into the stream labels (Loki 3.x)
 *   - scripted faults: the next N queries answer 429/5xx.
 * LogQL is evaluated with the product's own parser and line filters (the
 * subset: stream selector + line filters; anything else is a 400 here).
 *
 *   const lq = await startLokiQueryServer({ maxEntriesPerQuery: 100 });
 *   lq.seed({ job: 'x' }, [['1767225600000000000', 'line']]);
 *   lq.failNext(2, 429);
 *   lq.requests  // every query_range request: query, start, end, limit, status
 *   await lq.close();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LabelMatcher, LogSelector } from '../../src/logql/ast.js';
import { compileChain } from '../../src/logql/line-filter.js';
import { parseExpr } from '../../src/logql/parse.js';
import { compileLabelRegex } from '../../src/re2/re2.js';
import { labelsKey } from '../../src/log-event.js';

export interface QueryServerOptions {
  /** Loki's max_entries_limit_per_query (default 5000). */
  maxEntriesPerQuery?: number;
  /** Loki's max_query_length in ms (default 721h; 0 = none). */
  maxQueryLengthMs?: number;
}

export interface QueryRequestLog {
  query: string;
  startNs: bigint;
  endNs: bigint;
  limit: number;
  status: number;
  returned: number;
  tenant: string | undefined;
  authorization: string | undefined;
  categorize: boolean;
}

interface StoredEntry {
  ns: bigint;
  line: string;
  metadata: Record<string, string> | undefined;
}

interface StoredStream {
  labels: Record<string, string>;
  key: string;
  /** Sorted by ns. */
  entries: StoredEntry[];
}

export type SeedValue = [string, string] | [string, string, Record<string, string>];

export interface LokiQueryServer {
  url: string;
  requests: QueryRequestLog[];
  /** Store entries (any order; duplicates dropped as Loki does). */
  seed(labels: Record<string, string>, values: readonly SeedValue[]): void;
  /** Answer the next `n` query_range requests with `status`. */
  failNext(n: number, status: number, body?: string): void;
  entryCount(): number;
  close(): Promise<void>;
}

/** Go's time.Duration.String for whole milliseconds: `744h0m0s`, `1h30m0s`, `1.5s`, `500ms`. */
export function goDurationString(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sMs = ms % 60_000;
  const s = sMs % 1000 === 0 ? String(sMs / 1000) : (sMs / 1000).toFixed(3).replace(/0+$/, '');
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Prometheus model.Duration.String: years and weeks only when exact (`30d1h`, `4w`). */
export function promDurationString(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  const unit = (name: string, size: number, exact: boolean): void => {
    if (exact && rest % size !== 0) return;
    const v = Math.floor(rest / size);
    if (v > 0) {
      out += `${v}${name}`;
      rest -= v * size;
    }
  };
  unit('y', 365 * 86_400_000, true);
  unit('w', 7 * 86_400_000, true);
  unit('d', 86_400_000, false);
  unit('h', 3_600_000, false);
  unit('m', 60_000, false);
  unit('s', 1000, false);
  unit('ms', 1, false);
  return out;
}

/** Loki's parseTimestamp (pkg/loghttp/params.go) in nanoseconds. */
function parseTimestampNs(v: string | null, def: bigint): bigint {
  if (v === null || v === '') return def;
  if (v.includes('.') && Number.isFinite(Number(v))) return BigInt(Math.round(Number(v) * 1000)) * 1_000_000n;
  if (/^-?\d+$/.test(v)) return v.length <= 10 ? BigInt(v) * 1_000_000_000n : BigInt(v);
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new Error(`cannot parse "${v}" to a valid timestamp`);
  return BigInt(ms) * 1_000_000n;
}

function matcherTest(m: LabelMatcher): (l: Record<string, string>) => boolean {
  const v = m.value;
  switch (m.op) {
    case '=':
      return (l) => (l[m.name] ?? '') === v;
    case '!=':
      return (l) => (l[m.name] ?? '') !== v;
    case '=~': {
      const re = compileLabelRegex(v);
      return (l) => re(l[m.name] ?? '');
    }
    case '!~': {
      const re = compileLabelRegex(v);
      return (l) => !re(l[m.name] ?? '');
    }
  }
}

/** The log query's selector, through the product's parser (a log query parses inside a range aggregation). */
function parseLogQuery(query: string): LogSelector {
  const expr = parseExpr(`count_over_time(${query} [1s])`);
  const sel = (expr as { selector?: LogSelector & { stages?: unknown[] } }).selector;
  if (sel === undefined) throw new Error(`not a log query: ${query}`);
  if (sel.stages !== undefined && sel.stages.length > 0) throw new Error(`the test server runs stream selectors and line filters only: ${query}`);
  return sel;
}

export async function startLokiQueryServer(opts: QueryServerOptions = {}): Promise<LokiQueryServer> {
  const maxEntries = opts.maxEntriesPerQuery ?? 5000;
  const maxLengthMs = opts.maxQueryLengthMs ?? 721 * 3_600_000;
  const streams = new Map<string, StoredStream>();
  const requests: QueryRequestLog[] = [];
  let faults: Array<{ status: number; body: string }> = [];

  const seed = (labels: Record<string, string>, values: readonly SeedValue[]): void => {
    const key = labelsKey(labels);
    let s = streams.get(key);
    if (s === undefined) streams.set(key, (s = { labels: { ...labels }, key, entries: [] }));
    const incoming = values.map((v) => ({ ns: BigInt(v[0]), line: v[1], metadata: v[2] }));
    const inOrder = incoming.every((e, i) => (i === 0 ? s!.entries.length === 0 || e.ns > s!.entries[s!.entries.length - 1]!.ns : e.ns > incoming[i - 1]!.ns));
    if (inOrder) {
      // The common case (a client pushing in time order): append.
      for (const e of incoming) s.entries.push(e);
      return;
    }
    const all = s.entries.concat(incoming).sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
    // Loki drops an entry whose stream, time and line equal a stored one.
    const kept: StoredEntry[] = [];
    for (const e of all) {
      let dup = false;
      for (let j = kept.length - 1; j >= 0 && kept[j]!.ns === e.ns; j--) if (kept[j]!.line === e.line) dup = true;
      if (!dup) kept.push(e);
    }
    s.entries = kept;
  };

  const lowerBound = (entries: StoredEntry[], ns: bigint): number => {
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.ns < ns) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const answerQuery = (url: URL, req: http.IncomingMessage, res: http.ServerResponse): void => {
    const p = url.searchParams;
    const query = p.get('query') ?? '';
    const categorize = String(req.headers['x-loki-response-encoding-flags'] ?? '').split(',').map((s) => s.trim()).includes('categorize-labels');
    const log: QueryRequestLog = {
      query, startNs: 0n, endNs: 0n, limit: 0, status: 0, returned: 0, categorize,
      tenant: req.headers['x-scope-orgid'] as string | undefined,
      authorization: req.headers.authorization,
    };
    requests.push(log);
    const fail = (status: number, body: string): void => {
      log.status = status;
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${body}\n`);
    };
    const fault = faults.shift();
    if (fault !== undefined) return fail(fault.status, fault.body);
    let sel: LogSelector;
    let startNs: bigint;
    let endNs: bigint;
    try {
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      endNs = parseTimestampNs(p.get('end'), nowNs);
      startNs = parseTimestampNs(p.get('start'), endNs - 3_600_000_000_000n);
      sel = parseLogQuery(query);
    } catch (e) {
      return fail(400, (e as Error).message);
    }
    const limit = p.get('limit') === null ? 100 : Number(p.get('limit'));
    log.startNs = startNs;
    log.endNs = endNs;
    log.limit = limit;
    if (!Number.isInteger(limit) || limit <= 0) return fail(400, 'limit must be a positive value');
    if (limit > maxEntries) return fail(400, `max entries limit per query exceeded, limit > max_entries_limit_per_query (${limit} > ${maxEntries})`);
    // Loki compares the range in whole milliseconds (pkg/querier/queryrange/limits.go).
    const lengthMs = Number(endNs / 1_000_000n - startNs / 1_000_000n);
    if (maxLengthMs > 0 && lengthMs > maxLengthMs) {
      return fail(400, `the query time range exceeds the limit (query length: ${goDurationString(lengthMs)}, limit: ${promDurationString(maxLengthMs)})`);
    }
    const backward = (p.get('direction') ?? 'backward').toLowerCase() !== 'forward';
    const tests = sel.matchers.map(matcherTest);
    const chain = compileChain(sel.filters);
    const picked: Array<{ s: StoredStream; e: StoredEntry }> = [];
    for (const s of streams.values()) {
      if (!tests.every((t) => t(s.labels))) continue;
      // Each stream contributes at most `limit` entries from the right end of the range.
      let taken = 0;
      if (!backward) {
        for (let i = lowerBound(s.entries, startNs); i < s.entries.length && taken < limit; i++) {
          const e = s.entries[i]!;
          if (e.ns >= endNs) break;
          if (chain.test(e.line)) {
            picked.push({ s, e });
            taken++;
          }
        }
      } else {
        for (let i = lowerBound(s.entries, endNs) - 1; i >= 0 && taken < limit; i--) {
          const e = s.entries[i]!;
          if (e.ns < startNs) break;
          if (chain.test(e.line)) {
            picked.push({ s, e });
            taken++;
          }
        }
      }
    }
    picked.sort((a, b) => (a.e.ns < b.e.ns ? -1 : a.e.ns > b.e.ns ? 1 : a.s.key < b.s.key ? -1 : a.s.key > b.s.key ? 1 : 0));
    if (backward) picked.reverse();
    const page = picked.slice(0, limit);
    // Group back into streams (metadata merged into the labels unless categorized).
    const out = new Map<string, { stream: Record<string, string>; values: unknown[] }>();
    for (const { s, e } of page) {
      const labels = categorize || e.metadata === undefined ? s.labels : { ...s.labels, ...e.metadata };
      const key = categorize || e.metadata === undefined ? s.key : labelsKey(labels);
      let o = out.get(key);
      if (o === undefined) out.set(key, (o = { stream: labels, values: [] }));
      o.values.push(categorize ? [e.ns.toString(), e.line, e.metadata === undefined ? {} : { structuredMetadata: e.metadata }] : [e.ns.toString(), e.line]);
    }
    log.status = 200;
    log.returned = page.length;
    const data: Record<string, unknown> = { resultType: 'streams' };
    if (categorize) data.encodingFlags = ['categorize-labels'];
    data.result = [...out.values()];
    data.stats = { summary: { totalEntriesReturned: page.length }, querier: { store: { totalChunksRef: 0 } } };
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' }).end(JSON.stringify({ status: 'success', data }));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/loki/api/v1/query_range') return answerQuery(url, req, res);
    if (req.method === 'POST' && url.pathname === '/loki/api/v1/push') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
          res.writeHead(415).end('this test server accepts JSON pushes only\n');
          return;
        }
        try {
          const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { streams: Array<{ stream: Record<string, string>; values: SeedValue[] }> };
          for (const s of doc.streams) seed(s.stream, s.values);
          res.writeHead(204).end();
        } catch (e) {
          res.writeHead(400).end(`${(e as Error).message}\n`);
        }
      });
      return;
    }
    res.writeHead(404).end('404 page not found\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    seed,
    failNext(n, status, body = status === 429 ? 'Ingestion rate limit exceeded' : 'server error') {
      faults = faults.concat(Array.from({ length: n }, () => ({ status, body })));
    },
    entryCount: () => [...streams.values()].reduce((n, s) => n + s.entries.length, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
