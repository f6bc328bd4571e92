/**
 * The in-process path: what a TCP source does with each socket read, minus
 * the socket. Pre-generated corpus bytes, in 64 KiB chunks (a socket read's
 * size), go through one LineSplitter per connection into the sidecar's real
 * IngestPipeline (decode → bus → rule engine, and Loki when configured).
 * Between rounds of chunks the event loop turns, as it does between socket
 * reads, so the engine's per-turn evaluation and the Loki sender run.
 */
import { setImmediate as turn } from 'node:timers/promises';
import type { Sidecar } from '../src/app.js';
import { LineSplitter } from '../src/sources/line-splitter.js';
import { chunked, type Corpus } from './corpus.js';

export interface PumpResult {
  /** Records decoded into events (the pipeline's accepted counter). */
  lines: number;
  ms: number;
  linesPerSec: number;
}

export class InProcessFeeder {
  private readonly conns: Array<{ splitter: LineSplitter; chunks: Buffer[]; next: number }>;
  private receivedMs = 0;

  constructor(
    private readonly sidecar: Sidecar,
    corpus: Corpus,
  ) {
    const sink = sidecar.pipeline;
    this.conns = corpus.connections.map((c) => {
      const peer = c.peer;
      const splitter = new LineSplitter(256 * 1024, {
        line: (text) => sink.record(text, peer, 'tcp', this.receivedMs),
        reject: (reason) => sink.reject(reason, peer, 'tcp'),
      });
      return { splitter, chunks: chunked(c), next: 0 };
    });
  }

  /** Feed for `ms` of wall time (whole rounds), looping over the corpus. */
  async pump(ms: number): Promise<PumpResult> {
    const p = this.sidecar.pipeline;
    const before = p.accepted;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < ms) {
      for (const c of this.conns) {
        const chunk = c.chunks[c.next]!;
        c.next = (c.next + 1) % c.chunks.length;
        this.receivedMs = Date.now();
        p.bytes(chunk.length, 'tcp');
        c.splitter.push(chunk);
      }
      await turn();
      elapsed = performance.now() - t0;
    }
    const lines = p.accepted - before;
    return { lines, ms: elapsed, linesPerSec: (lines / elapsed) * 1000 };
  }
}
