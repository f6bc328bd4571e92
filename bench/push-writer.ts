/**
 * PushWriter (src/sinks/loki/push-writer.ts) against protobufjs's encoder on
 * 1 MiB batches of generated Talos traffic (decoded with structured metadata,
 * as the pusher gets it), and snappy on each (snappyjs and, where its binding
 * loads, the native `snappy` package): how long one batch holds the event
 * loop. Best of rounds, after a warm-up; checks the bytes are equal and that
 * both snappy blocks uncompress to the same PushRequest.
 *
 *   npm run build:tools && node dist-tools/bench/push-writer.js
 */
import { createRequire } from 'node:module';
import { OpenBatch } from '../src/sinks/loki/batch.js';
import { encodePushRequest } from '../src/sinks/loki/logproto.js';
import { PushWriter } from '../src/sinks/loki/push-writer.js';
import { jsSnappyBlock, nativeSnappyBlock } from '../src/sinks/loki/snappy-block.js';
import { TalosDecoder } from '../src/talos/decode.js';
import { records } from '../src/traffic/index.js';

const snappyjs = jsSnappyBlock();
const native = nativeSnappyBlock();

function batch(): OpenBatch {
  const decoder = new TalosDecoder({ job: 'talos-kernel', lineFormat: 'msg', hostField: 'node-name', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: true });
  const b = new OpenBatch(true);
  for (const r of records({ nodes: 5, ratePerSec: 100_000, maxLines: 50_000, seed: 3, startTimeMs: Date.now() - 60_000 })) {
    const ev = decoder.decode(r.json, `10.0.0.${r.node}`, Date.now());
    if (typeof ev === 'string') continue;
    b.add(ev);
    if (b.bytes >= 1 << 20) break;
  }
  return b;
}

/** Median ms per call: unlike the minimum, it includes the GC work a call's allocations cause. */
function median(fn: () => unknown, rounds = 60): number {
  const t: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[rounds >> 1]!;
}

function best(fn: () => unknown, rounds = 30): number {
  let min = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

const b = batch();
const writer = new PushWriter();
const viaProtobufjs = encodePushRequest(b, true);
const viaWriter = Buffer.from(writer.encode(b, true));
if (!viaWriter.equals(viaProtobufjs)) throw new Error('PushWriter output differs from protobufjs');
for (let i = 0; i < 10; i++) {
  encodePushRequest(b, true);
  writer.encode(b, true);
}
const pb = best(() => encodePushRequest(b, true));
const pw = best(() => writer.encode(b, true));
const sn = best(() => snappyjs.compress(viaWriter), 15);
const snMedian = median(() => snappyjs.compress(viaWriter));
const mib = viaWriter.length / (1 << 20);
const jsBlock = snappyjs.compress(viaWriter);
let nativeRow = `native snappy: not loaded (${native instanceof Error ? native.message.split('\n')[0] : ''})\n`;
if (!(native instanceof Error)) {
  const nBlock = native.compress(viaWriter);
  // Each decoder on the other's block: both are raw snappy blocks of the same bytes.
  const req = createRequire(import.meta.url);
  const { uncompressSync } = req('snappy') as { uncompressSync(b: Uint8Array): Buffer };
  const { uncompress } = req('snappyjs') as { uncompress(b: Buffer): Buffer };
  if (!uncompressSync(jsBlock).equals(viaWriter) || !uncompress(nBlock).equals(viaWriter)) throw new Error('snappy blocks differ in content');
  for (let i = 0; i < 10; i++) native.compress(viaWriter);
  const ns = best(() => native.compress(viaWriter), 30);
  const nsMedian = median(() => native.compress(viaWriter));
  nativeRow =
    `native snappy compress: ${ns.toFixed(2)} ms (${(mib / (ns / 1000)).toFixed(0)} MiB/s), median ${nsMedian.toFixed(2)} ms — ` +
    `${(sn / ns).toFixed(2)}× faster (median ${(snMedian / nsMedian).toFixed(2)}×), ${nBlock.length} bytes vs snappyjs ${jsBlock.length}\n`;
}
process.stdout.write(
  `batch: ${b.lines} lines, ${viaWriter.length} bytes of PushRequest (${b.streams.size} streams, structured metadata)\n` +
    `protobufjs encode: ${pb.toFixed(2)} ms (${(mib / (pb / 1000)).toFixed(0)} MiB/s)\n` +
    `PushWriter encode: ${pw.toFixed(2)} ms (${(mib / (pw / 1000)).toFixed(0)} MiB/s) — ${(pb / pw).toFixed(2)}× faster, identical bytes\n` +
    `snappyjs compress: ${sn.toFixed(2)} ms (${(mib / (sn / 1000)).toFixed(0)} MiB/s), median ${snMedian.toFixed(2)} ms\n` +
    nativeRow,
);
