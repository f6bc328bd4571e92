import { describe, expect, it } from 'vitest';
import { deriveFoldOrbits, foldOrbit } from '../../src/re2/unicode-data.js';
import { FOLD_ORBITS } from '../../src/re2/unicode-fold-data.js';

describe('precomputed case-folding orbits', () => {
  it('equal what this Node derives from its own Unicode tables (regenerate with scripts/gen-unicode-fold.mjs)', () => {
    expect(FOLD_ORBITS).toEqual(deriveFoldOrbits());
  });

  it('hold RE2\'s special orbits: k/K/Kelvin sign, s/S/long s', () => {
    expect(foldOrbit(0x6b)).toEqual([0x4b, 0x6b, 0x212a]);
    expect(foldOrbit(0x73)).toEqual([0x53, 0x73, 0x17f]);
    expect(foldOrbit(0x31)).toEqual([0x31]);
  });
});
