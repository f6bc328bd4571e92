/** Loki's error bodies, as its source writes them (pkg/validation/validate.go, pkg/ingester/stream.go, pkg/util/errors/errors.go). */
import { describe, expect, it } from 'vitest';
import { parseLabelText, parseLokiError, sameStream } from '../../src/sinks/loki/loki-errors.js';

const S = '{host="10.0.0.5", job="talos-kernel", service_name="talos-kernel"}';

describe('parseLokiError', () => {
  it('reads the distributor\'s grouped per-entry refusals', () => {
    const body =
      `1 errors like: stream '${S}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.allow_structured_metadata\` or contact your Loki administrator to enable it; ` +
      `2 errors like: entry for stream '${S}' has timestamp too old: 2026-02-20T00:00:00Z, oldest acceptable timestamp is: 2026-02-27T03:00:00Z; ` +
      `1 errors like: stream '${S}' has structured metadata too large: '90' bytes, limit: '64' bytes. Please see \`limits_config.max_structured_metadata_size\` or contact your Loki administrator to increase it`;
    const r = parseLokiError(400, body, true);
    expect(r.metadataDisallowed).toBe(true);
    expect(r.tooOldBeforeMs).toBe(Date.parse('2026-02-27T03:00:00Z'));
    expect(r.metadataMaxBytes).toBe(64);
    expect(r.total).toBe(4);
    expect(r.unknown).toBe(false);
  });

  it('counts a lone message as one refusal and knows the entries-count limit and line size', () => {
    const r = parseLokiError(400, `stream '${S}' has too many structured metadata labels: '5', limit: '3'. Please see \`limits_config.max_structured_metadata_entries_count\` or contact your Loki administrator to increase it`, true);
    expect(r.metadataMaxCount).toBe(3);
    expect(r.total).toBe(1);
    const l = parseLokiError(400, `max entry size '256' bytes exceeded for stream '${S}' while adding an entry with length '300' bytes`, true);
    expect(l.maxLineBytes).toBe(256);
    expect(parseLokiError(400, `max entry size '256' bytes exceeded for stream '${S}' while adding`, false).total).toBeUndefined(); // cut short: no total
  });

  it('reads the ingester\'s out-of-order and per-stream rate limit answers', () => {
    const ooo =
      "entry with timestamp 2026-02-27 03:14:07.125 +0000 UTC ignored, reason: 'entry too far behind, entry timestamp is: 2026-02-27T03:14:07Z, oldest acceptable timestamp is: 2026-02-27T04:00:00Z',\n" +
      `user 'fake', total ignored: 3 out of 10 for stream: ${S}`;
    const r = parseLokiError(400, ooo, true);
    expect(r.outOfOrder).toBe(3);
    expect(r.limitedStreams).toEqual([]);
    const rate =
      `entry with timestamp 2026-02-27 03:14:07.125 +0000 UTC ignored, reason: 'Per stream rate limit exceeded (limit: 3MB/sec) while attempting to ingest for stream '${S}' totaling 120B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased',\n` +
      `user 'fake', total ignored: 4 out of 4 for stream: ${S}`;
    const q = parseLokiError(429, rate, true);
    expect(q.limitedStreams).toEqual([{ labels: { host: '10.0.0.5', job: 'talos-kernel', service_name: 'talos-kernel' }, ignored: 4 }]);
  });

  it('reads the stream limit (429) naming the stream, and flags what it does not know', () => {
    const r = parseLokiError(
      429,
      `maximum active stream limit exceeded when trying to create stream ${S}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: 'fake'`,
      true,
    );
    expect(r.limitedStreams).toEqual([{ labels: { host: '10.0.0.5', job: 'talos-kernel', service_name: 'talos-kernel' }, ignored: undefined }]);
    expect(parseLokiError(429, 'ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest \'10\' lines totaling \'1000\' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased', true).limitedStreams).toEqual([]);
    expect(parseLokiError(400, 'error parsing labels', true).unknown).toBe(true);
  });

  it('matches our stream to the one Loki names when Loki added labels', () => {
    const named = parseLabelText('{a="x", b="q\\"uote", service_name="s"}')!;
    expect(named).toEqual({ a: 'x', b: 'q"uote', service_name: 's' });
    expect(sameStream({ a: 'x', b: 'q"uote' }, named)).toBe(true);
    expect(sameStream({ a: 'y' }, named)).toBe(false);
    expect(parseLabelText('not labels')).toBeUndefined();
  });
});
