/**
 * CRC-32 (IEEE 802.3, the one zlib/gzip/PNG use), table-driven. Node 20's
 * zlib has no crc32 (added in 22.2), and spool records need a check that
 * catches torn or rotted bytes, not a cryptographic hash.
 */

const TABLE = buildTable();

function buildTable(): Int32Array {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
}

/** CRC-32 of `buf[start, end)`; pass a previous result as `crc` to continue a running checksum. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  let c = ~crc;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
