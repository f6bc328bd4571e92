import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/sinks/loki/crc32.js';

describe('crc32', () => {
  it('matches the IEEE check values', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    expect(crc32(Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });

  it('continues a running checksum and honours ranges', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
        const whole = Buffer.concat([a, b]);
        expect(crc32(b, 0, b.length, crc32(a))).toBe(crc32(whole));
        expect(crc32(whole, a.length)).toBe(crc32(b));
      }),
    );
  });

  it('detects any single flipped bit', () => {
    const buf = Buffer.from('entry with timestamp ignored, reason: entry too far behind');
    const good = crc32(buf);
    for (let i = 0; i < buf.length * 8; i++) {
      const copy = Buffer.from(buf);
      copy[i >> 3]! ^= 1 << (i & 7);
      expect(crc32(copy)).not.toBe(good);
    }
  });
});
