/**
 * Child process: plays a pre-generated corpus to the sidecar over loopback
 * TCP, one connection per node per stream from the node's own 127.10.x.y
 * address (as Talos does). Either flat out — every connection writes as long
 * as the kernel takes bytes, so the sidecar's reading speed sets the rate —
 * or paced at a total line rate. The bytes are generated before `go`, so the
 * sender spends almost nothing per line and does not compete for the
 * sidecar's core.
 */
import net from 'node:net';
import { connectFrom } from './lib/connect-from.js';
import { childChannel } from './lib/forked-child.js';
import { TalosDecoder } from '../src/talos/decode.js';
import { buildCorpus, type Corpus, type CorpusConnection, type CorpusOptions } from './corpus.js';

export type SenderCmd =
  /** countStreams: also decode the corpus once to count its distinct stream label sets. */
  | { cmd: 'prepare'; port: number; corpus: CorpusOptions; countStreams?: boolean }
  /** ratePerSec 0: as fast as the receiver reads. */
  | { cmd: 'go'; durationMs: number; ratePerSec: number };

export type SenderEv =
  | { ev: 'ready'; lines: number; bytes: number; connections: number; streams: number }
  | { ev: 'done'; linesSent: number; bytesSent: number; ms: number };

interface Conn {
  sock: net.Socket;
  data: CorpusConnection;
  /** Byte offset just after each line's newline. */
  ends: Uint32Array;
  /** Next line to send (paced) / next byte (flat). */
  cursor: number;
  sentLines: number;
  sentBytes: number;
}

const SLICE = 256 * 1024;
const TICK_MS = 2;

function lineEnds(buf: Buffer): Uint32Array {
  const ends: number[] = [];
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) ends.push(i + 1);
  return Uint32Array.from(ends);
}

let conns: Conn[] = [];

/** Distinct stream label sets the sidecar's decoder (default settings) will make of the corpus. */
function countStreams(corpus: Corpus): number {
  const decoder = new TalosDecoder({ job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: false });
  const now = Date.now();
  for (const c of corpus.connections) {
    const text = c.bytes.toString('utf8');
    for (let i = 0, nl = text.indexOf('\n'); nl !== -1; i = nl + 1, nl = text.indexOf('\n', i)) decoder.decode(text.slice(i, nl), c.peer, now);
  }
  return decoder.labelSets.size;
}

/** Write as fast as the kernel takes it, each connection looping over its bytes. */
async function flat(deadline: number): Promise<void> {
  await Promise.all(
    conns.map(
      (c) =>
        new Promise<void>((resolve) => {
          const buf = c.data.bytes;
          const bytesPerLine = buf.length / c.data.lines;
          const pump = (): void => {
            while (Date.now() < deadline) {
              const end = Math.min(buf.length, c.cursor + SLICE);
              const ok = c.sock.write(buf.subarray(c.cursor, end));
              c.sentBytes += end - c.cursor;
              c.cursor = end === buf.length ? 0 : end;
              if (!ok) {
                c.sock.once('drain', pump);
                return;
              }
            }
            c.sentLines = Math.round(c.sentBytes / bytesPerLine);
            resolve();
          };
          c.sock.on('error', () => resolve());
          pump();
        }),
    ),
  );
}

/** Write each connection's share of `rate` lines/s, in small ticks, whole lines. */
async function paced(deadline: number, rate: number): Promise<void> {
  const total = conns.reduce((n, c) => n + c.data.lines, 0);
  const t0 = performance.now();
  while (Date.now() < deadline) {
    const elapsedS = (performance.now() - t0) / 1000;
    for (const c of conns) {
      const due = Math.floor(elapsedS * rate * (c.data.lines / total));
      let n = due - c.sentLines;
      while (n > 0) {
        // Up to the corpus end in one write; wrap around for the rest.
        const from = c.cursor;
        const to = Math.min(c.ends.length, from + n);
        const start = from === 0 ? 0 : c.ends[from - 1]!;
        const end = c.ends[to - 1]!;
        c.sock.write(c.data.bytes.subarray(start, end));
        c.sentBytes += end - start;
        c.sentLines += to - from;
        n -= to - from;
        c.cursor = to === c.ends.length ? 0 : to;
      }
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
}

const emit = childChannel<SenderCmd, SenderEv>(async (cmd) => {
  if (cmd.cmd === 'prepare') {
    const corpus = buildCorpus(cmd.corpus);
    conns = [];
    for (const data of corpus.connections) {
      const sock = await connectFrom(cmd.port, data.peer);
      sock.on('error', () => {});
      conns.push({ sock, data, ends: lineEnds(data.bytes), cursor: 0, sentLines: 0, sentBytes: 0 });
    }
    emit({ ev: 'ready', lines: corpus.lines, bytes: corpus.bytes, connections: conns.length, streams: cmd.countStreams === true ? countStreams(corpus) : 0 });
    return;
  }
  const t0 = Date.now();
  const deadline = t0 + cmd.durationMs;
  if (cmd.ratePerSec > 0) await paced(deadline, cmd.ratePerSec);
  else await flat(deadline);
  const ms = Date.now() - t0;
  await Promise.all(conns.map((c) => new Promise<void>((resolve) => c.sock.end(() => resolve()))));
  emit({
    ev: 'done',
    linesSent: conns.reduce((n, c) => n + c.sentLines, 0),
    bytesSent: conns.reduce((n, c) => n + c.sentBytes, 0),
    ms,
  });
});
