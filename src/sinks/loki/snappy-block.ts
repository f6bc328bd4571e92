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
    // snappyjs returns a Buffer only for a Buffer input; it allocates the output.
    compress: (raw) => m.compress(Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)),
  };
}

/** The native binding, or the reason it could not load. */
export function nativeSnappyBlock(): SnappyBlock | Error {
  try {
    const m = require('snappy') as { compressSync(input: Uint8Array): Buffer };
    return { kind: 'native', compress: (raw) => m.compressSync(raw) };
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
