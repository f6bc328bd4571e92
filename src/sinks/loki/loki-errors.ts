/**
 * Reads Loki's push error bodies. Loki validates each entry and stores the
 * valid ones, answering 400 with the refusals grouped by message
 * (pkg/util/errors/errors.go GroupedErrors: "N errors like: <msg>; …"), or
 * its ingester answers for one stream ("… total ignored: N out of M for
 * stream: {…}", pkg/ingester/stream.go). Per-stream limits answer 429
 * (pkg/ingester/instance.go, pkg/distributor/distributor.go). Message texts
 * are pkg/validation/validate.go's; Loki writes stream labels in Prometheus
 * text form and may add labels of its own (e.g. service_name), so a named
 * stream matches ours when ours is a subset of it.
 */

export interface StreamRef {
  readonly labels: Readonly<Record<string, string>>;
  /** Entries of the stream Loki ignored ("total ignored: N"); undefined = the whole stream. */
  readonly ignored: number | undefined;
}

export interface LokiRefusal {
  /** `reject_old_samples`: entries before this (ms) were refused ("has timestamp too old"). */
  tooOldBeforeMs?: number;
  /** Entries after Loki's creation grace period ("has timestamp too new"): count named in the body. */
  tooNew: number;
  /** `max_line_size` in bytes ("max entry size '%d' bytes exceeded"). */
  maxLineBytes?: number;
  /** "includes structured metadata, but this feature is disallowed". */
  metadataDisallowed: boolean;
  /** `max_structured_metadata_size` ("has structured metadata too large: … limit: '%d' bytes"). */
  metadataMaxBytes?: number;
  /** `max_structured_metadata_entries_count` ("has too many structured metadata labels: …, limit: '%d'"). */
  metadataMaxCount?: number;
  /** Ingester: entries out of order / too far behind, by count (not resendable). */
  outOfOrder: number;
  /** Per-stream limits (429): streams Loki did not take (the rest of the push was stored). */
  limitedStreams: StreamRef[];
  /** Refusals in the body (GroupedErrors counts), when the body is complete; for the remainder nobody explained. */
  total: number | undefined;
  /** Nothing in the body was recognised. */
  unknown: boolean;
}

const TOO_OLD = /has timestamp too old: [^,]*, oldest acceptable timestamp is: (\S+?)(?:;|$|\s)/;
const TOO_NEW = /has timestamp too new: /g;
const LINE_TOO_LONG = /max entry size '(\d+)' bytes exceeded for stream/;
const MD_DISALLOWED = /includes structured metadata, but this feature is disallowed/;
const MD_TOO_LARGE = /has structured metadata too large: '\d+' bytes, limit: '(\d+)' bytes/;
const MD_TOO_MANY = /has too many structured metadata labels: '\d+', limit: '(\d+)'/;
const INGESTER_TOTAL = /total ignored: (\d+) out of (\d+) for stream: (\{.*?\})\s*$/gm;
const OUT_OF_ORDER = /entry too far behind|entry out of order/;
const STREAM_RATE = /Per stream rate limit exceeded/;
const STREAM_LIMIT = /maximum active stream limit exceeded when trying to create stream (\{.*?\}), reduce the number of active streams/g;
const GROUPED = /(?:^|; )(\d+) errors like: /g;

/** What a non-2xx body says about a push. `complete`: the body was not cut short when read. */
export function parseLokiError(status: number, body: string, complete: boolean): LokiRefusal {
  const r: LokiRefusal = { tooNew: 0, metadataDisallowed: false, outOfOrder: 0, limitedStreams: [], total: undefined, unknown: true };
  const old = TOO_OLD.exec(body);
  if (old !== null) {
    const t = Date.parse(old[1]!);
    if (!Number.isNaN(t)) r.tooOldBeforeMs = t;
    r.unknown = false;
  }
  r.tooNew = (body.match(TOO_NEW) ?? []).length;
  const long = LINE_TOO_LONG.exec(body);
  if (long !== null) r.maxLineBytes = Number(long[1]);
  r.metadataDisallowed = MD_DISALLOWED.test(body);
  const large = MD_TOO_LARGE.exec(body);
  if (large !== null) r.metadataMaxBytes = Number(large[1]);
  const many = MD_TOO_MANY.exec(body);
  if (many !== null) r.metadataMaxCount = Number(many[1]);
  if (r.tooNew > 0 || long !== null || r.metadataDisallowed || large !== null || many !== null) r.unknown = false;

  for (const m of body.matchAll(INGESTER_TOTAL)) {
    const labels = parseLabelText(m[3]!);
    r.unknown = false;
    if (status === 429 && STREAM_RATE.test(body) && labels !== undefined) r.limitedStreams.push({ labels, ignored: Number(m[1]) });
    else if (OUT_OF_ORDER.test(body)) r.outOfOrder += Number(m[1]);
    else r.total = (r.total ?? 0) + Number(m[1]);
  }
  for (const m of body.matchAll(STREAM_LIMIT)) {
    const labels = parseLabelText(m[1]!);
    if (labels !== undefined) {
      r.limitedStreams.push({ labels, ignored: undefined });
      r.unknown = false;
    }
  }
  if (complete && status === 400 && r.total === undefined && r.outOfOrder === 0) {
    // GroupedErrors: "N errors like: " before each message when there are several; a lone message is one error.
    let total = 0;
    let prefixed = false;
    for (const m of body.matchAll(GROUPED)) {
      total += Number(m[1]);
      prefixed = true;
    }
    if (!r.unknown) r.total = prefixed ? total : 1;
  }
  return r;
}

/** Prometheus text form `{a="x", b="y"}` to a map; undefined when it is not that. */
export function parseLabelText(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|\})/gy;
  if (!s.startsWith('{')) return undefined;
  re.lastIndex = 1;
  if (s.trim() === '{}') return out;
  for (;;) {
    const m = re.exec(s);
    if (m === null) return undefined;
    out[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    if (m[3] === '}') return out;
  }
}

/** Our stream is the one Loki named: every label of ours is in Loki's set with the same value. */
export function sameStream(ours: Readonly<Record<string, string>>, named: Readonly<Record<string, string>>): boolean {
  for (const k in ours) if (named[k] !== ours[k]) return false;
  return true;
}
