/**
 * `generatorURL` as Loki's ruler builds it (pkg/ruler `grafanaLinkForExpression`):
 * a Grafana Explore link that opens the rule's query,
 *   <externalURL>/explore?left={"queries":[{"expr":"<expr>","queryType":"range"}]}
 * with the JSON encoded by Go's encoding/json and the query string by Go's
 * url.Values.Encode. We reproduce both encoders so the link is byte-identical.
 */

/** Go json.Marshal escapes HTML-sensitive characters and the JS line separators. */
const GO_JSON_EXTRA = /[<>&\u2028\u2029]/g;
const GO_JSON_EXTRA_ESC: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

function goJson(v: unknown): string {
  return JSON.stringify(v).replace(GO_JSON_EXTRA, (c) => GO_JSON_EXTRA_ESC[c]!);
}

/** Go url.QueryEscape: like encodeURIComponent, but also escapes !'()* and writes space as '+'. */
export function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * The Explore link for `expr` under `externalUrl`. Loki concatenates without
 * normalising; we drop trailing slashes of the base so `https://g/` does not
 * yield `https://g//explore`. `datasourceUid` mirrors Loki's `ruler.datasource_uid`.
 */
export function lokiExploreLink(externalUrl: string, expr: string, datasourceUid = ''): string {
  const q: { expr: string; queryType: string; datasource?: { type: string; uid: string } } = { expr, queryType: 'range' };
  if (datasourceUid !== '') q.datasource = { type: 'loki', uid: datasourceUid };
  const left = `{"queries":[${goJson(q)}]}`;
  return `${externalUrl.replace(/\/+$/, '')}/explore?left=${goQueryEscape(left)}`;
}

/** `rules.evidence` link settings (issue #18). */
export interface EvidenceLinkConfig {
  link: 'ruler' | 'explore' | 'loki';
  /** Grafana base URL (`rules.external_url`), for `explore`. */
  grafanaUrl: string;
  /** Loki base URL, for `loki`. */
  lokiUrl: string;
  datasourceUid: string;
}

/** The alert's window as a link shows it: from activeAt − the longest lookback to resolvedAt or now. */
export interface EvidenceWindow {
  fromMs: number;
  toMs: number;
}

/**
 * Grafana Explore on the rule's log queries over a window, in Explore's
 * current URL state (schemaVersion 1: `panes` maps a pane id to its
 * datasource, queries and range; Grafana
 * public/app/features/explore/state/url-migration v1). Times are epoch ms,
 * which Explore's range accepts as absolute times.
 */
export function grafanaExploreLogsLink(grafanaUrl: string, logQueries: readonly string[], w: EvidenceWindow, datasourceUid = ''): string {
  const datasource = datasourceUid === '' ? undefined : { type: 'loki', uid: datasourceUid };
  const queries = logQueries.map((expr, i) => ({
    refId: String.fromCharCode(65 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : ''),
    expr,
    queryType: 'range',
    ...(datasource === undefined ? {} : { datasource }),
  }));
  const pane = { ...(datasourceUid === '' ? {} : { datasource: datasourceUid }), queries, range: { from: String(w.fromMs), to: String(w.toMs) } };
  const panes = JSON.stringify({ evidence: pane });
  return `${grafanaUrl.replace(/\/+$/, '')}/explore?schemaVersion=1&panes=${encodeURIComponent(panes)}`;
}

/**
 * Loki's `query_range` on the first log query over the window, newest
 * lines first (Loki's HTTP API: start/end in Unix nanoseconds).
 */
export function lokiQueryRangeLink(lokiUrl: string, logQuery: string, w: EvidenceWindow): string {
  const q = new URLSearchParams({ query: logQuery, start: `${w.fromMs}000000`, end: `${w.toMs}000000`, direction: 'backward', limit: '100' });
  return `${lokiUrl.replace(/\/+$/, '')}/loki/api/v1/query_range?${q.toString()}`;
}

/**
 * The evidence link for an alert of a rule with these log queries, or ''
 * when the mode is `ruler` (the caller builds Loki's link) or no URL is set.
 * `lookbackMs` is the longest leg's range (+ offset) so the first line that
 * counted toward activeAt is inside the window.
 */
export function evidenceLink(cfg: EvidenceLinkConfig, logQueries: ReadonlyArray<{ query: string; lookbackMs: number }>, activeAtMs: number, toMs: number): string {
  if (cfg.link === 'ruler' || logQueries.length === 0) return '';
  const lookback = logQueries.reduce((m, q) => Math.max(m, q.lookbackMs), 0);
  const w = { fromMs: activeAtMs - lookback, toMs: Math.max(toMs, activeAtMs) };
  if (cfg.link === 'explore') return cfg.grafanaUrl === '' ? '' : grafanaExploreLogsLink(cfg.grafanaUrl, logQueries.map((q) => q.query), w, cfg.datasourceUid);
  return cfg.lokiUrl === '' ? '' : lokiQueryRangeLink(cfg.lokiUrl, logQueries[0]!.query, w);
}
