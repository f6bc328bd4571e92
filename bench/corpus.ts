/**
 * Pre-generated Talos traffic for the benchmarks: the generator's exact
 * json_lines, split the way Talos sends them (one TCP connection per node per
 * stream), newline framed, as one Buffer per connection. Generating is done
 * before any clock starts, so the figures measure the sidecar, not the
 * generator.
 */
import { FAILURE_KINDS, nodeSourceAddress, records, type FailureInjection, type FailureKind, type TalosStreamKind } from '../src/traffic/index.js';

export interface CorpusOptions {
  /** Records to generate (failure bursts included). */
  lines: number;
  /** Simulated Talos nodes; each gets its own source address (the `host` label). */
  nodes: number;
  /** Event time of the first record (epoch ms): keep it near now so rule windows hold the lines. */
  startTimeMs: number;
  /** Event-time rate; only spreads timestamps (default 200 000/s). */
  ratePerSec?: number;
  kernelShare?: number;
  seed?: number;
  /** Injected failure bursts (1–4 kernel lines each), evenly spread; default none. */
  failureBursts?: number;
  /** Failure kinds to cycle through (default: every kind but `silence`). */
  failureKinds?: readonly FailureKind[];
}

export interface CorpusConnection {
  node: number;
  stream: TalosStreamKind;
  /** The address a node sends from (127.10.x.y), as the sidecar sees it. */
  peer: string;
  /** Newline-framed records, exactly as written on the socket. */
  bytes: Buffer;
  lines: number;
}

export interface Corpus {
  connections: CorpusConnection[];
  lines: number;
  bytes: number;
}

const BURST_KINDS: readonly FailureKind[] = FAILURE_KINDS.filter((k) => k !== 'silence');

export function buildCorpus(opts: CorpusOptions): Corpus {
  const rate = opts.ratePerSec ?? 200_000;
  const spanMs = Math.max(1, Math.ceil((opts.lines / rate) * 1000));
  const kinds = opts.failureKinds ?? BURST_KINDS;
  const bursts = opts.failureBursts ?? 0;
  const failures: FailureInjection[] = [];
  for (let i = 0; i < bursts; i++) {
    failures.push({ atMs: ((i + 0.5) * spanMs) / bursts, kind: kinds[i % kinds.length]!, node: i % opts.nodes });
  }
  const parts = new Map<string, { node: number; stream: TalosStreamKind; text: string; bufs: Buffer[]; lines: number }>();
  let total = 0;
  for (const rec of records({
    nodes: opts.nodes,
    ratePerSec: rate,
    maxLines: opts.lines,
    kernelShare: opts.kernelShare,
    seed: opts.seed ?? 7,
    startTimeMs: opts.startTimeMs,
    failures,
  })) {
    const key = `${rec.node}/${rec.stream}`;
    let p = parts.get(key);
    if (p === undefined) {
      p = { node: rec.node, stream: rec.stream, text: '', bufs: [], lines: 0 };
      parts.set(key, p);
    }
    p.text += rec.json + '\n';
    p.lines++;
    total++;
    // Keep the string ropes short: turn them into Buffers every MB.
    if (p.text.length > 1 << 20) {
      p.bufs.push(Buffer.from(p.text));
      p.text = '';
    }
  }
  const connections: CorpusConnection[] = [];
  let bytes = 0;
  for (const p of parts.values()) {
    if (p.text.length > 0) p.bufs.push(Buffer.from(p.text));
    const buf = Buffer.concat(p.bufs);
    bytes += buf.length;
    connections.push({ node: p.node, stream: p.stream, peer: nodeSourceAddress(p.node), bytes: buf, lines: p.lines });
  }
  connections.sort((a, b) => a.node - b.node || a.stream.localeCompare(b.stream));
  return { connections, lines: total, bytes };
}

/** Split each connection's bytes into socket-read-sized chunks (views, no copies). */
export function chunked(conn: CorpusConnection, chunkBytes = 64 * 1024): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < conn.bytes.length; i += chunkBytes) out.push(conn.bytes.subarray(i, Math.min(conn.bytes.length, i + chunkBytes)));
  return out;
}
