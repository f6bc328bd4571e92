/**
 * The receiver's `loki` mode: Loki 3.x's validation of a push, answering with
 * Loki's own status codes and texts (sources cited on lokiPush).
 */
import { labelsText, parseLabels, type ReceivedEntry } from './loki-receiver.js';

/** The Loki limits the `loki` mode enforces (names as in Loki's limits_config). */
export interface LokiLimits {
  /** limits_config.allow_structured_metadata (Loki 3 default true; Loki 2.9 default false). */
  allowStructuredMetadata?: boolean;
  /** max_structured_metadata_size in bytes (name + value); 0: none. */
  maxStructuredMetadataSize?: number;
  /** max_structured_metadata_entries_count; 0: none. */
  maxStructuredMetadataEntriesCount?: number;
  /** reject_old_samples_max_age (ms before now); undefined: reject_old_samples off. */
  rejectOldSamplesMaxAgeMs?: number;
  /** max_line_size in bytes; 0: none. */
  maxLineSize?: number;
  /** Ingester: entries older than the stream's newest stored entry minus this are "too far behind" (max_chunk_age/2). */
  outOfOrderWindowMs?: number;
  /** Ingester: streams whose per-stream rate limit is exhausted (every entry refused, 429). */
  streamRateLimited?: (labels: string) => boolean;
  /** Distributor ingest limits: at most this many distinct streams; pushes creating more get 429 for them. */
  maxStreams?: number;
  /** Loki's discover_service_name: adds service_name (from job) to the stream labels, as Loki 3 does. */
  addServiceName?: boolean;
}

export interface LokiState {
  /** Per stream: newest stored timestamp (ns), for the ingester's out-of-order window. */
  newest: Map<string, bigint>;
  /** Streams that exist (for maxStreams). */
  streams: Set<string>;
}

/** Go's time.Format(time.RFC3339) for a ns timestamp. */
function rfc3339(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Go's time.Time.String() in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
function goTimeString(ns: bigint): string {
  const base = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19).replace('T', ' ');
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac === '' ? '' : `.${frac}`} +0000 UTC`;
}

/**
 * One push through Loki's distributor and ingester, with the limits above.
 * Order and texts follow Loki's source: per-entry checks from
 * pkg/distributor/validator.go ValidateEntry (too old, too new, line too
 * long, metadata disallowed / too large / too many; messages in
 * pkg/validation/validate.go), grouped as pkg/util/errors/errors.go
 * GroupedErrors ("N errors like: …; …") into a 400 while the valid entries
 * are stored; the stream limit as pkg/distributor/distributor.go (429 naming
 * the first refused stream, the others stored); then the ingester
 * (pkg/ingester/instance.go, stream.go): per-stream rate limit (429) and
 * "entry too far behind" (400), "total ignored: N out of M for stream: …",
 * the error of the last failing stream winning.
 */
export function lokiPush(decoded: ReceivedEntry[], limits: LokiLimits, state: LokiState, tenant: string): { status: number; body: string; stored: ReceivedEntry[] } {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const errors: string[] = [];
  const byStream = new Map<string, ReceivedEntry[]>();
  for (const e0 of decoded) {
    let streamText = e0.labels;
    if (limits.addServiceName === true) {
      const l = parseLabels(e0.labels);
      if (l.service_name === undefined && l.job !== undefined) l.service_name = l.job;
      streamText = labelsText(l);
    }
    const e = { ...e0, labels: streamText };
    const ts = BigInt(e.tsNs);
    if (limits.rejectOldSamplesMaxAgeMs !== undefined) {
      const cutoff = nowNs - BigInt(limits.rejectOldSamplesMaxAgeMs) * 1_000_000n;
      if (ts < cutoff) {
        errors.push(`entry for stream '${streamText}' has timestamp too old: ${rfc3339(ts)}, oldest acceptable timestamp is: ${rfc3339(cutoff)}`);
        continue;
      }
    }
    if (ts > nowNs + 10n * 60n * 1_000_000_000n) {
      errors.push(`entry for stream '${streamText}' has timestamp too new: ${rfc3339(ts)}`);
      continue;
    }
    const lineLen = Buffer.byteLength(e.line);
    if ((limits.maxLineSize ?? 0) > 0 && lineLen > limits.maxLineSize!) {
      errors.push(`max entry size '${limits.maxLineSize}' bytes exceeded for stream '${streamText}' while adding an entry with length '${lineLen}' bytes`);
      continue;
    }
    const mdNames = Object.keys(e.metadata);
    if (mdNames.length > 0) {
      if (limits.allowStructuredMetadata === false) {
        errors.push(`stream '${streamText}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.allow_structured_metadata\` or contact your Loki administrator to enable it`);
        continue;
      }
      let size = 0;
      for (const k of mdNames) size += Buffer.byteLength(k) + Buffer.byteLength(e.metadata[k]!);
      const maxSize = limits.maxStructuredMetadataSize ?? 0;
      if (maxSize > 0 && size > maxSize) {
        errors.push(`stream '${streamText}' has structured metadata too large: '${size}' bytes, limit: '${maxSize}' bytes. Please see \`limits_config.max_structured_metadata_size\` or contact your Loki administrator to increase it`);
        continue;
      }
      const maxCount = limits.maxStructuredMetadataEntriesCount ?? 0;
      if (maxCount > 0 && mdNames.length > maxCount) {
        errors.push(`stream '${streamText}' has too many structured metadata labels: '${mdNames.length}', limit: '${maxCount}'. Please see \`limits_config.max_structured_metadata_entries_count\` or contact your Loki administrator to increase it`);
        continue;
      }
    }
    const list = byStream.get(streamText) ?? [];
    list.push(e);
    byStream.set(streamText, list);
  }
  let status = 204;
  let body = '';
  if (errors.length > 0) {
    const grouped = new Map<string, number>();
    for (const m of errors) grouped.set(m, (grouped.get(m) ?? 0) + 1);
    const parts: string[] = [];
    for (const [m, n] of grouped) parts.push(grouped.size > 1 || n > 1 ? `${n} errors like: ${m}` : m);
    status = 400;
    body = parts.join('; ');
  }
  // Distributor ingest limits: streams beyond maxStreams are refused; if none is accepted, nothing is stored.
  if (limits.maxStreams !== undefined) {
    const refused: string[] = [];
    for (const labels of byStream.keys()) {
      if (state.streams.has(labels)) continue;
      if (state.streams.size >= limits.maxStreams) refused.push(labels);
      else state.streams.add(labels);
    }
    if (refused.length > 0) {
      const msg = `maximum active stream limit exceeded when trying to create stream ${refused[0]}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '${tenant}'`;
      for (const r of refused) byStream.delete(r);
      status = 429;
      body = msg;
      if (byStream.size === 0) return { status, body, stored: [] };
    }
  }
  // Ingester.
  const stored: ReceivedEntry[] = [];
  let ingesterErr: { status: number; body: string } | undefined;
  for (const [labels, list] of byStream) {
    const failed: { e: ReceivedEntry; why: string }[] = [];
    let rateLimited = false;
    let newest = state.newest.get(labels);
    for (const e of list) {
      const ts = BigInt(e.tsNs);
      if (limits.streamRateLimited?.(labels) === true) {
        failed.push({ e, why: `Per stream rate limit exceeded (limit: 3MB/sec) while attempting to ingest for stream '${labels}' totaling ${Buffer.byteLength(e.line)}B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased` });
        rateLimited = true;
        continue;
      }
      if (limits.outOfOrderWindowMs !== undefined && newest !== undefined) {
        const cutoff = newest - BigInt(limits.outOfOrderWindowMs) * 1_000_000n;
        if (ts < cutoff) {
          failed.push({ e, why: `entry too far behind, entry timestamp is: ${rfc3339(ts)}, oldest acceptable timestamp is: ${rfc3339(cutoff)}` });
          continue;
        }
      }
      if (newest === undefined || ts > newest) newest = ts;
      stored.push(e);
    }
    if (newest !== undefined) state.newest.set(labels, newest);
    // instance.Push overwrites its error with each stream's result: only the last stream's error is answered.
    ingesterErr = undefined;
    if (failed.length > 0) {
      let text = '';
      for (const f of failed.slice(0, 10)) text += `entry with timestamp ${goTimeString(BigInt(f.e.tsNs))} ignored, reason: '${f.why}',\n`;
      text += `user '${tenant}', total ignored: ${failed.length} out of ${list.length} for stream: ${labels}`;
      ingesterErr = { status: rateLimited ? 429 : 400, body: text };
    }
  }
  if (ingesterErr !== undefined) return { ...ingesterErr, stored };
  return { status, body, stored };
}

