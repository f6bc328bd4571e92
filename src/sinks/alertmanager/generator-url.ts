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
