/**
 * CRC-32 (IEEE 802.3, the one zlib/gzip/PNG use) from Node's zlib (Node ≥ 20.15):
 * spool records need a check that catches torn or rotted bytes, not a cryptographic hash.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC-32 of `buf[start, end)`; pass a previous result as `crc` to continue a running checksum. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  const part = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
  return zlibCrc32(part, crc);
}
