/**
 * Over 400 lines: the settings table is data; one row per setting keeps every key, default and doc in one place.
 * The one place that defines every setting, its type, default and meaning.
 * `docs/configuration.md` is generated from FIELDS (`node dist/cli.js config-docs`)
 * and a test keeps the two in sync. Everything else receives a typed Config.
 */
import { parseDuration } from './duration.js';
import { redactUrl } from '../sinks/redact.js';

export interface TlsConfig {
  caFile: string;
  certFile: string;
  keyFile: string;
  insecureSkipVerify: boolean;
}

export interface HttpClientAuth {
  basicAuthUsername: string;
  basicAuthPassword: string;
  basicAuthPasswordFile: string;
  bearerToken: string;
  bearerTokenFile: string;
  tls: TlsConfig;
}

export interface Config {
  ingest: {
    listen: string;
    tcp: boolean;
    udp: boolean;
    maxLineBytes: number;
    maxConnections: number;
    idleTimeoutMs: number;
    allowCidrs: string[];
  };
  talos: {
    job: string;
    lineFormat: 'msg' | 'raw';
    hostField: string;
    hostNames: Record<string, string>;
    labelFields: string[];
    staticLabels: Record<string, string>;
    futureToleranceMs: number;
    /** Skip JSON.parse for records no rule can match (only while Loki forwarding is off). */
    lazyDecode: boolean;
  };
  http: {
    listen: string;
    adminEnabled: boolean;
    adminTokenFile: string;
    bodyLimitBytes: number;
    maxConcurrentApiReads: number;
  };
  rules: {
    paths: string[];
    unsupported: 'error' | 'skip';
    watch: boolean;
    tickMs: number;
    resendDelayMs: number;
    resolvedRetentionMs: number;
    externalUrl: string;
    externalLabels: Record<string, string>;
    maxSeriesPerRule: number;
    maxWindowMemoryBytes: number;
    maxFileBytes: number;
    /** Issue #18: the log lines behind each alert and the link to them. */
    evidence: {
      maxLines: number;
      maxLineBytes: number;
      annotation: string;
      link: 'ruler' | 'explore' | 'loki';
      lokiUrl: string;
      datasourceUid: string;
    };
  };
  alertmanager: HttpClientAuth & {
    urls: string[];
    timeoutMs: number;
    queueCapacity: number;
    maxBatch: number;
    tenant: string;
    minBackoffMs: number;
    maxBackoffMs: number;
  };
  loki: HttpClientAuth & {
    url: string;
    tenant: string;
    format: 'protobuf' | 'json';
    /** 'auto': send, and fall back to none for a Loki that refuses it (sinks/loki/metadata-policy.ts). */
    structuredMetadata: boolean | 'auto';
    /** Give up on a batch Loki keeps answering 429/5xx after this long (counted). 0: never. */
    retryMaxTimeMs: number;
    batchBytes: number;
    batchWaitMs: number;
    timeoutMs: number;
    minBackoffMs: number;
    maxBackoffMs: number;
    maxRetries: number;
    maxBufferBytes: number;
    spoolDir: string;
    spoolMaxBytes: number;
  };
  state: {
    file: string;
    intervalMs: number;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
    format: 'json' | 'pretty';
  };
}

type Kind =
  | { t: 'string' }
  | { t: 'hostport' }
  | { t: 'url' }
  | { t: 'bool' }
  | { t: 'int'; min: number; max: number }
  | { t: 'duration' }
  | { t: 'bytes' }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'strings' }
  | { t: 'urls' }
  | { t: 'map' };

export interface FieldSpec {
  /** YAML key path, snake_case as users write it. */
  key: string;
  /** Where it lands in Config (camelCase path). */
  path: string;
  kind: Kind;
  doc: string;
  /** Command-line flag that overrides it, if any. */
  flag?: string;
  /** Never print the value (logs, /api, errors). */
  secret?: boolean;
}

const MiB = 1024 * 1024;

export function defaultConfig(): Config {
  const auth = (): HttpClientAuth => ({
    basicAuthUsername: '',
    basicAuthPassword: '',
    basicAuthPasswordFile: '',
    bearerToken: '',
    bearerTokenFile: '',
    tls: { caFile: '', certFile: '', keyFile: '', insecureSkipVerify: false },
  });
  return {
    ingest: {
      listen: '0.0.0.0:6000',
      tcp: true,
      udp: true,
      maxLineBytes: 256 * 1024,
      maxConnections: 1024,
      idleTimeoutMs: 10 * 60_000,
      allowCidrs: [],
    },
    talos: {
      job: 'talos-kernel',
      lineFormat: 'msg',
      hostField: 'node-name',
      hostNames: {},
      labelFields: [],
      staticLabels: {},
      futureToleranceMs: 10_000,
      lazyDecode: true,
    },
    http: { listen: '0.0.0.0:8080', adminEnabled: false, adminTokenFile: '', bodyLimitBytes: 1 * MiB, maxConcurrentApiReads: 16 },
    rules: {
      paths: ['./rules'],
      unsupported: 'skip',
      watch: true,
      tickMs: 1000,
      resendDelayMs: 60_000,
      resolvedRetentionMs: 15 * 60_000,
      externalUrl: '',
      externalLabels: {},
      // A homelab holds tens to a few thousand streams; these leave ample headroom.
      maxSeriesPerRule: 5_000,
      maxWindowMemoryBytes: 128 * MiB,
      maxFileBytes: 1 * MiB,
      evidence: { maxLines: 3, maxLineBytes: 512, annotation: '', link: 'explore', lokiUrl: '', datasourceUid: '' },
    },
    alertmanager: {
      ...auth(),
      urls: [],
      timeoutMs: 10_000,
      queueCapacity: 10_000,
      maxBatch: 256,
      tenant: '',
      minBackoffMs: 100,
      maxBackoffMs: 10_000,
    },
    loki: {
      ...auth(),
      url: '',
      tenant: '',
      format: 'protobuf',
      structuredMetadata: 'auto',
      retryMaxTimeMs: 60 * 60_000,
      batchBytes: 1 * MiB,
      batchWaitMs: 1000,
      timeoutMs: 10_000,
      minBackoffMs: 500,
      maxBackoffMs: 5 * 60_000,
      maxRetries: 10,
      maxBufferBytes: 64 * MiB,
      spoolDir: '',
      spoolMaxBytes: 1024 * MiB,
    },
    state: { file: '', intervalMs: 30_000 },
    log: { level: 'info', format: 'json' },
  };
}

function authFields(prefix: string, cfgPrefix: string, what: string): FieldSpec[] {
  return [
    { key: `${prefix}.basic_auth.username`, path: `${cfgPrefix}.basicAuthUsername`, kind: { t: 'string' }, doc: `Basic-auth user name for ${what}.` },
    { key: `${prefix}.basic_auth.password`, path: `${cfgPrefix}.basicAuthPassword`, kind: { t: 'string' }, doc: `Basic-auth password for ${what}.`, secret: true },
    { key: `${prefix}.basic_auth.password_file`, path: `${cfgPrefix}.basicAuthPasswordFile`, kind: { t: 'string' }, doc: `File holding the basic-auth password for ${what} (read at start).` },
    { key: `${prefix}.bearer_token`, path: `${cfgPrefix}.bearerToken`, kind: { t: 'string' }, doc: `Bearer token for ${what}.`, secret: true },
    { key: `${prefix}.bearer_token_file`, path: `${cfgPrefix}.bearerTokenFile`, kind: { t: 'string' }, doc: `File holding the bearer token for ${what} (read at start).` },
    { key: `${prefix}.tls.ca_file`, path: `${cfgPrefix}.tls.caFile`, kind: { t: 'string' }, doc: `PEM CA bundle to verify ${what}.` },
    { key: `${prefix}.tls.cert_file`, path: `${cfgPrefix}.tls.certFile`, kind: { t: 'string' }, doc: `PEM client certificate for ${what}.` },
    { key: `${prefix}.tls.key_file`, path: `${cfgPrefix}.tls.keyFile`, kind: { t: 'string' }, doc: `PEM client key for ${what}.` },
    { key: `${prefix}.tls.insecure_skip_verify`, path: `${cfgPrefix}.tls.insecureSkipVerify`, kind: { t: 'bool' }, doc: `Skip certificate verification for ${what} (testing only).` },
  ];
}

const INT = (min: number, max: number): Kind => ({ t: 'int', min, max });

export const FIELDS: readonly FieldSpec[] = [
  { key: 'ingest.listen', path: 'ingest.listen', kind: { t: 'hostport' }, flag: '--listen', doc: 'Address for the Talos json_lines receiver; TCP and UDP share the port.' },
  { key: 'ingest.tcp', path: 'ingest.tcp', kind: { t: 'bool' }, doc: 'Accept Talos logs over TCP.' },
  { key: 'ingest.udp', path: 'ingest.udp', kind: { t: 'bool' }, doc: 'Accept Talos logs over UDP (one record per datagram).' },
  { key: 'ingest.max_line_bytes', path: 'ingest.maxLineBytes', kind: { t: 'bytes' }, doc: 'Longest accepted TCP line; longer lines are counted (`reason="too_long"`) and skipped, the connection survives.' },
  { key: 'ingest.max_connections', path: 'ingest.maxConnections', kind: INT(1, 1_000_000), doc: 'Concurrent TCP connections. At the limit a newcomer closes the oldest connection that never delivered a complete line (idle or slowloris peers); only if there is none is it refused. Both are counted.' },
  { key: 'ingest.idle_timeout', path: 'ingest.idleTimeoutMs', kind: { t: 'duration' }, doc: 'Close a TCP connection that sent nothing for this long (Talos redials in 1 s). 0 disables.' },
  { key: 'ingest.allow_cidrs', path: 'ingest.allowCidrs', kind: { t: 'strings' }, doc: 'If set, only peers in these CIDRs may send logs (IPv4/IPv6).' },
  { key: 'talos.job', path: 'talos.job', kind: { t: 'string' }, doc: 'Value of the `job` label on every record (the seed rules select `{job="talos-kernel"}`).' },
  { key: 'talos.line_format', path: 'talos.lineFormat', kind: { t: 'enum', values: ['msg', 'raw'] }, doc: '`msg`: the message (trailing newline trimmed), other fields become structured metadata. `raw`: the JSON record exactly as received.' },
  { key: 'talos.host_field', path: 'talos.hostField', kind: { t: 'string' }, doc: 'Record field that names the node, for the `host` label (set it on the node with Talos `extraTags`, see the README). A record without it falls back to `talos.host_names`, then the peer IP. The field is not also sent as structured metadata. Empty: disabled.' },
  { key: 'talos.host_names', path: 'talos.hostNames', kind: { t: 'map' }, doc: 'Map of peer IP to the `host` label value, for records without `talos.host_field` (default: the peer IP).' },
  { key: 'talos.label_fields', path: 'talos.labelFields', kind: { t: 'strings' }, doc: 'Further record fields promoted to labels (e.g. `facility`); dashes become underscores. Keep cardinality low.' },
  { key: 'talos.static_labels', path: 'talos.staticLabels', kind: { t: 'map' }, doc: 'Labels added to every record (e.g. `cluster`).' },
  { key: 'talos.lazy_decode', path: 'talos.lazyDecode', kind: { t: 'bool' }, doc: 'Decide from the raw record whether any loaded rule could match it (stream labels, and the literals every rule\'s line filters require, in one pass for all rules) and parse only those records as JSON on the alerting thread; Loki forwarding decodes every record on its own thread either way. Results are identical (property-tested); `false` parses every record (`npm run bench -- --only 3 --lazy-decode` compares).' },
  { key: 'talos.future_tolerance', path: 'talos.futureToleranceMs', kind: { t: 'duration' }, doc: 'Event times further than this ahead of the local clock are clamped to now and counted.' },
  { key: 'http.listen', path: 'http.listen', kind: { t: 'hostport' }, flag: '--http-listen', doc: 'Address for /metrics, /healthz, /readyz and the API.' },
  { key: 'http.admin.enabled', path: 'http.adminEnabled', kind: { t: 'bool' }, doc: 'Enable state-changing endpoints (`POST /-/reload`).' },
  { key: 'http.admin.token_file', path: 'http.adminTokenFile', kind: { t: 'string' }, doc: 'File holding the bearer token required by admin endpoints (required when enabled).' },
  { key: 'http.body_limit', path: 'http.bodyLimitBytes', kind: { t: 'bytes' }, doc: 'Largest HTTP request body accepted.' },
  { key: 'http.max_concurrent_api_reads', path: 'http.maxConcurrentApiReads', kind: INT(1, 10_000), doc: 'Rules/alerts API answers sent at once (slow readers included); more requests get 429 with `Retry-After` (`api_reads_rejected_total`). Answers are built once per alert state change, not per request.' },
  { key: 'rules.paths', path: 'rules.paths', kind: { t: 'strings' }, flag: '--rules', doc: 'Rule files or directories (Loki ruler local layout: `<dir>/<tenant>/<file>`).' },
  { key: 'rules.unsupported', path: 'rules.unsupported', kind: { t: 'enum', values: ['error', 'skip'] }, flag: '--unsupported-rules', doc: '`skip`: a rule using LogQL the engine cannot run is loaded as skipped (never fires) and listed in the logs, `/api/v1/rules`, `talos_alert_sidecar_rules_skipped{reason="unsupported"}` and `check`. `error`: such a rule fails the load of its file (CI linting; `check --strict` does the same). Rules whose stream selectors can never match the labels this sidecar produces are always skipped (`reason="not_applicable"`), never an error.' },
  { key: 'rules.watch', path: 'rules.watch', kind: { t: 'bool' }, doc: 'Reload rules when their files change (ConfigMap updates).' },
  { key: 'rules.evaluation_tick', path: 'rules.tickMs', kind: { t: 'duration' }, doc: 'Timer for `for`, window expiry, resolution and absence (events evaluate at once).' },
  { key: 'rules.resend_delay', path: 'rules.resendDelayMs', kind: { t: 'duration' }, doc: 'Re-send firing alerts this often (Prometheus `--rules.alert.resend-delay`).' },
  { key: 'rules.resolved_retention', path: 'rules.resolvedRetentionMs', kind: { t: 'duration' }, doc: 'Keep and re-send resolved alerts this long (Prometheus: 15m).' },
  { key: 'rules.external_url', path: 'rules.externalUrl', kind: { t: 'string' }, flag: '--external-url', doc: 'Grafana base URL for `generatorURL` Explore links and `$externalURL`.' },
  { key: 'rules.external_labels', path: 'rules.externalLabels', kind: { t: 'map' }, doc: 'Labels added to every alert unless the alert has the label.' },
  { key: 'rules.max_series_per_rule', path: 'rules.maxSeriesPerRule', kind: INT(0, 100_000_000), doc: 'Streams one rule may hold in its window. Lines of new streams beyond it are dropped (`rule_series_dropped_total{reason="series_limit"}`, logged once a minute); held streams, firing ones included, are never evicted. 0: no limit.' },
  { key: 'rules.max_window_memory', path: 'rules.maxWindowMemoryBytes', kind: { t: 'bytes' }, doc: 'Memory all rule windows together may hold (`rule_window_memory_bytes`); beyond it new streams are dropped (`reason="memory_budget"`). 0: no limit.' },
  { key: 'rules.max_file_size', path: 'rules.maxFileBytes', kind: { t: 'bytes' }, doc: 'Largest rule file accepted; a larger one fails the load (at start: exit 1) naming the file, unread. 0: no limit.' },
  { key: 'rules.evidence.max_lines', path: 'rules.evidence.maxLines', kind: INT(0, 100), doc: 'Most recent matching lines each alert carries (its evidence: API field `evidence`, state file, `$lines`). Memory: one ring of this many line references per rule series. 0 turns evidence off.' },
  { key: 'rules.evidence.max_line_bytes', path: 'rules.evidence.maxLineBytes', kind: INT(16, 65_536), doc: 'Evidence lines longer than this many UTF-8 bytes are cut, with a ` …[+N bytes]` marker.' },
  { key: 'rules.evidence.annotation', path: 'rules.evidence.annotation', kind: { t: 'string' }, doc: 'If set (e.g. `log_lines`), every alert gets an annotation of this name holding its evidence lines, without touching rule files (a rule\'s own annotation of that name wins).' },
  { key: 'rules.evidence.link', path: 'rules.evidence.link', kind: { t: 'enum', values: ['ruler', 'explore', 'loki'] }, doc: '`generatorURL`: `ruler` = the Loki ruler\'s Explore link to the metric expression (needs `rules.external_url`); `explore` = Grafana Explore on the rule\'s log query over the alert\'s window (needs `rules.external_url`); `loki` = Loki\'s `query_range` on that log query and window (`rules.evidence.loki_url`, else `loki.url`).' },
  { key: 'rules.evidence.loki_url', path: 'rules.evidence.lokiUrl', kind: { t: 'string' }, doc: 'Loki base URL users can open, for `rules.evidence.link: loki` (default: `loki.url`).' },
  { key: 'rules.evidence.datasource_uid', path: 'rules.evidence.datasourceUid', kind: { t: 'string' }, doc: 'Grafana Loki data source UID put in Explore links (Loki `ruler.datasource_uid`); empty: Grafana\'s default.' },
  { key: 'alertmanager.urls', path: 'alertmanager.urls', kind: { t: 'urls' }, flag: '--alertmanager-url', doc: 'Alertmanager replicas; every replica receives every alert. A path prefix is honoured.' },
  { key: 'alertmanager.timeout', path: 'alertmanager.timeoutMs', kind: { t: 'duration' }, doc: 'Request timeout.' },
  { key: 'alertmanager.queue_capacity', path: 'alertmanager.queueCapacity', kind: INT(1, 10_000_000), doc: 'Alerts queued per replica; the oldest are dropped (and counted) when full.' },
  { key: 'alertmanager.max_batch', path: 'alertmanager.maxBatch', kind: INT(1, 100_000), doc: 'Alerts per POST.' },
  { key: 'alertmanager.tenant', path: 'alertmanager.tenant', kind: { t: 'string' }, doc: '`X-Scope-OrgID` header (Mimir/Cortex Alertmanager).' },
  { key: 'alertmanager.min_backoff', path: 'alertmanager.minBackoffMs', kind: { t: 'duration' }, doc: 'First retry delay after a failed send (jittered, doubling).' },
  { key: 'alertmanager.max_backoff', path: 'alertmanager.maxBackoffMs', kind: { t: 'duration' }, doc: 'Longest retry delay.' },
  ...authFields('alertmanager', 'alertmanager', 'Alertmanager'),
  { key: 'loki.url', path: 'loki.url', kind: { t: 'url' }, flag: '--loki-url', doc: 'Loki base URL (`/loki/api/v1/push` is appended). Empty: no forwarding.' },
  { key: 'loki.tenant', path: 'loki.tenant', kind: { t: 'string' }, doc: '`X-Scope-OrgID` header.' },
  { key: 'loki.format', path: 'loki.format', kind: { t: 'enum', values: ['protobuf', 'json'] }, doc: 'Push encoding: snappy-compressed protobuf (as Loki clients) or JSON.' },
  { key: 'loki.structured_metadata', path: 'loki.structuredMetadata', kind: { t: 'enum', values: ['auto', 'true', 'false'] }, doc: 'Send non-label fields as structured metadata. `auto`: yes, and if Loki refuses it (2.9 default, `allow_structured_metadata: false`, schema < v13) push without it from then on; `true`: always (refused lines are dropped, counted); `false`: never.' },
  { key: 'loki.retry_max_time', path: 'loki.retryMaxTimeMs', kind: { t: 'duration' }, doc: 'How long a batch (or a stream set aside for a per-stream limit) is retried while Loki answers 429 or 5xx before it is dropped (counted). Connection errors and timeouts are retried until Loki answers when a spool is configured. 0: no limit.' },
  { key: 'loki.batch_size', path: 'loki.batchBytes', kind: { t: 'bytes' }, doc: 'Send a batch when it reaches this many bytes of lines.' },
  { key: 'loki.batch_wait', path: 'loki.batchWaitMs', kind: { t: 'duration' }, doc: 'Send a batch at the latest this long after its first line.' },
  { key: 'loki.timeout', path: 'loki.timeoutMs', kind: { t: 'duration' }, doc: 'Push request timeout.' },
  { key: 'loki.min_backoff', path: 'loki.minBackoffMs', kind: { t: 'duration' }, doc: 'First retry delay (jittered, doubling) for 429, 5xx and connection errors.' },
  { key: 'loki.max_backoff', path: 'loki.maxBackoffMs', kind: { t: 'duration' }, doc: 'Longest retry delay.' },
  { key: 'loki.max_retries', path: 'loki.maxRetries', kind: INT(0, 1000), doc: 'Without a spool: tries before a batch is dropped (counted). With a spool every line is in the write-ahead log and is retried from there until Loki answers (see loki.retry_max_time).' },
  { key: 'loki.max_buffer', path: 'loki.maxBufferBytes', kind: { t: 'bytes' }, doc: 'Memory for batches waiting to be sent; beyond it they are dropped from memory and re-read from the spool later (without a spool: dropped, counted).' },
  { key: 'loki.spool_dir', path: 'loki.spoolDir', kind: { t: 'string' }, flag: '--spool-dir', doc: 'Directory of the write-ahead log every forwarded line is written to before it is batched (kill -9 loses nothing read; a restart resends at most the batch in flight). Empty: no spool (memory only).' },
  { key: 'loki.spool_max_size', path: 'loki.spoolMaxBytes', kind: { t: 'bytes' }, doc: 'Spool size bound; the oldest segments are dropped (counted) when full.' },
  ...authFields('loki', 'loki', 'Loki'),
  { key: 'state.file', path: 'state.file', kind: { t: 'string' }, flag: '--state-file', doc: 'Snapshot of windows and alert state, restored at start. Empty: none.' },
  { key: 'state.interval', path: 'state.intervalMs', kind: { t: 'duration' }, doc: 'How often the snapshot is written (and always on SIGTERM).' },
  { key: 'log.level', path: 'log.level', kind: { t: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] }, flag: '--log-level', doc: 'Log level.' },
  { key: 'log.format', path: 'log.format', kind: { t: 'enum', values: ['json', 'pretty'] }, flag: '--log-format', doc: '`json` for machines, `pretty` for humans.' },
];

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, kib: 1024, mib: MiB, gib: 1024 * MiB,
};

export function parseBytes(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`not a byte size: ${v}`);
    return v;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`not a byte size: "${v}" (use e.g. 1048576, 512KiB, 1MiB, 1GiB)`);
  return Math.round(Number(m[1]) * unit);
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : JSON.stringify(v);
}

/** Turn one raw (YAML or flag) value into its typed form, or throw ConfigError naming the key. */
export function coerce(spec: FieldSpec, raw: unknown): unknown {
  const fail = (what: string): never => {
    throw new ConfigError(spec.key, `${what}, got ${spec.secret ? 'a value' : describe(raw)}`);
  };
  const k = spec.kind;
  switch (k.t) {
    case 'string':
      return typeof raw === 'string' ? raw : fail('expected a string');
    case 'hostport': {
      if (typeof raw !== 'string') return fail('expected "host:port"');
      parseHostPort(raw, spec.key);
      return raw;
    }
    case 'url': {
      if (typeof raw !== 'string') return fail('expected a URL');
      if (raw !== '') checkUrl(raw, spec.key);
      return raw;
    }
    case 'bool':
      return typeof raw === 'boolean' ? raw : raw === 'true' ? true : raw === 'false' ? false : fail('expected true or false');
    case 'int': {
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n)) return fail('expected a whole number');
      if (n < k.min || n > k.max) return fail(`expected a number from ${k.min} to ${k.max}`);
      return n;
    }
    case 'duration': {
      if (typeof raw !== 'string') return fail('expected a duration such as "30s" or "5m"');
      try {
        return parseDuration(raw);
      } catch (e) {
        return fail((e as Error).message);
      }
    }
    case 'bytes': {
      if (typeof raw !== 'string' && typeof raw !== 'number') return fail('expected a byte size such as "1MiB"');
      try {
        return parseBytes(raw);
      } catch (e) {
        return fail((e as Error).message);
      }
    }
    case 'enum':
      // A true/false choice among the values (loki.structured_metadata) keeps its boolean type.
      if ((raw === true || raw === false || raw === 'true' || raw === 'false') && k.values.includes(String(raw))) return raw === true || raw === 'true';
      return typeof raw === 'string' && k.values.includes(raw) ? raw : fail(`expected one of ${k.values.join(', ')}`);
    case 'strings':
    case 'urls': {
      const list = typeof raw === 'string' ? [raw] : raw;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) return fail('expected a list of strings');
      if (k.t === 'urls') for (const u of list as string[]) checkUrl(u, spec.key);
      return [...(list as string[])];
    }
    case 'map': {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail('expected a mapping of strings');
      const out: Record<string, string> = {};
      for (const [mk, mv] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof mv !== 'string') throw new ConfigError(`${spec.key}.${mk}`, `expected a string, got ${describe(mv)}`);
        out[mk] = mv;
      }
      return out;
    }
  }
}

function checkUrl(u: string, key: string): void {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new ConfigError(key, `not a URL: "${redactUrl(u)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(key, `expected an http(s) URL, got "${redactUrl(u)}"`);
}

/** Hide user:password in a URL before printing it anywhere (every form: see sinks/redact.ts). */
export { redactUrl };

export function parseHostPort(s: string, key = 'listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(key, `expected "host:port", got ${JSON.stringify(s)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) cur = cur[parts[i]!] as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}

const BY_KEY = new Map(FIELDS.map((f) => [f.key, f]));
const MAP_KEYS = new Set(FIELDS.filter((f) => f.kind.t === 'map').map((f) => f.key));

/**
 * Apply a parsed YAML document over the defaults. Unknown keys and bad values
 * throw a ConfigError that names the key.
 */
export function applyDocument(cfg: Config, doc: unknown, prefix = ''): void {
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(prefix || '(top level)', `expected a mapping, got ${describe(doc)}`);
  }
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const spec = BY_KEY.get(key);
    if (spec !== undefined) {
      setPath(cfg as unknown as Record<string, unknown>, spec.path, coerce(spec, v));
      continue;
    }
    const isSection = FIELDS.some((f) => f.key.startsWith(`${key}.`)) && !MAP_KEYS.has(key);
    if (!isSection) throw new ConfigError(key, 'unknown setting (see docs/configuration.md)');
    applyDocument(cfg, v, key);
  }
}

/** Apply a flag value (`--loki-url x`); repeatable flags pass all their values. */
export function applyFlag(cfg: Config, flag: string, values: string[]): void {
  const spec = FIELDS.find((f) => f.flag === flag);
  if (spec === undefined) throw new ConfigError(flag, 'unknown flag');
  const list = spec.kind.t === 'strings' || spec.kind.t === 'urls';
  setPath(cfg as unknown as Record<string, unknown>, spec.path, coerce(spec, list ? values : values[values.length - 1]));
}

/** Cross-field checks that a single field cannot express. */
export function validate(cfg: Config): void {
  if (cfg.http.adminEnabled && cfg.http.adminTokenFile === '') {
    throw new ConfigError('http.admin.token_file', 'required when http.admin.enabled is true');
  }
  if (!cfg.ingest.tcp && !cfg.ingest.udp) throw new ConfigError('ingest', 'at least one of tcp and udp must be enabled');
  if (cfg.alertmanager.minBackoffMs > cfg.alertmanager.maxBackoffMs) {
    throw new ConfigError('alertmanager.min_backoff', 'must not exceed alertmanager.max_backoff');
  }
  if (cfg.loki.minBackoffMs > cfg.loki.maxBackoffMs) throw new ConfigError('loki.min_backoff', 'must not exceed loki.max_backoff');
  if (cfg.rules.tickMs <= 0 || cfg.rules.tickMs > 1000) throw new ConfigError('rules.evaluation_tick', 'must be > 0 and at most 1s');
}

/** Markdown table of every setting, for docs/configuration.md. */
export function configDocs(): string {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const get = (path: string): unknown => path.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], defaults);
  const fmt = (spec: FieldSpec): string => {
    const v = get(spec.path);
    if (spec.kind.t === 'duration') return `\`${formatDurationLoose(v as number)}\``;
    if (typeof v === 'string') return v === '' ? '""' : `\`${v}\``;
    return `\`${JSON.stringify(v)}\``;
  };
  const rows = FIELDS.map((f) => `| \`${f.key}\` | ${f.flag ? `\`${f.flag}\`` : ''} | ${fmt(f)} | ${f.doc} |`);
  return ['| key | flag | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function formatDurationLoose(ms: number): string {
  if (ms % 60_000 === 0 && ms !== 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
