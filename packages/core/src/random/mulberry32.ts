/**
 * mulberry32: a tiny seeded generator of floats in [0, 1). Its whole state is one 32-bit integer,
 * its output is bit-identical on every platform and across versions (result files name their seed
 * and must reproduce exactly), and it is fast enough for hot loops (bootstrap, subsets, shuffles).
 * Written here rather than taken from a library for those guarantees; it is a dozen lines.
 */

/** A generator of uniform floats in [0, 1). */
export type RandomSource = () => number;

/**
 * A mulberry32 stream started at `seed`, reduced to 32 bits as `seed >>> 0` (so `1.7` and `1` give
 * the same stream, and `-1` the same as `2 ** 32 - 1`). The same seed always gives the same sequence.
 */
export function mulberry32(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}
