/**
 * Raw snappy block compression (what Loki's push handler uncompresses with
 * `snappy.Decode`; not the framed stream format) through the native `snappy`
 * package when its prebuilt binding loads on this platform, else the pure-JS
 * `snappyjs`. Both write valid blocks Loki decodes to the same bytes; they
 * need not produce the same compressed bytes.
 *
 * `snappy` ships one prebuilt binary per platform as an optional dependency
 * (no install script, nothing built or downloaded at install). Where none
 * matches (another libc or CPU, or a node_modules built for another
 * platform), requiring it throws and snappyjs is used.
 */
import { createRequire } from 'node:module';

export interface SnappyBlock {
  /** Which implementation: 'native' (the `snappy` package) or 'js' (snappyjs). */
  readonly kind: 'native' | 'js';
  /** A new buffer holding the snappy block of `raw`; never a view of `raw`. */
  compress(raw: Uint8Array): Buffer;
}

const require = createRequire(import.meta.url);

/** snappyjs: always available. */
export function jsSnappyBlock(): SnappyBlock {
  // snappyjs ships no types; this is the part of its API we use.
  const m = require('snappyjs') as { compress(input: Buffer): Buffer };
  return {
    kind: 'js',
    compress: (raw) => {
      // snappyjs returns a Buffer only for a Buffer input.
      const out = m.compress(Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
      // Its result is a view of a worst-case-sized allocation (≈1.17× the input, often 5× the
      // block): copied out, a queued or spooled body holds only its own bytes.
      return out.buffer.byteLength > out.byteLength + 4096 ? Buffer.from(out) : out;
    },
  };
}

/** The native binding, or the reason it could not load. */
export function nativeSnappyBlock(): SnappyBlock | Error {
  try {
    const m = require('snappy') as { compressSync(input: Uint8Array, options: { copyOutputData: boolean }): Buffer };
    // copyOutputData: a plain V8 buffer instead of wrapping the native output as an external
    // buffer. Measured (bench/push-writer.ts, median per 1 MiB batch) about 20x faster per call:
    // external buffers made most calls pay for a GC, the copy of ~200 KiB costs far less.
    return { kind: 'native', compress: (raw) => m.compressSync(raw, { copyOutputData: true }) };
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

let chosen: SnappyBlock | undefined;

/** The implementation in use, chosen on first call: native if it loads, else snappyjs. */
export function snappyBlock(): SnappyBlock {
  if (chosen === undefined) {
    const native = nativeSnappyBlock();
    chosen = native instanceof Error ? jsSnappyBlock() : native;
  }
  return chosen;
}
