/**
 * Seeded pseudo-random numbers for the `subsets` protocol and the bootstrap: @pqm/core's mulberry32,
 * seeded through the mixing below (a result file names its seed and must reproduce exactly).
 */
import { mulberry32, type RandomSource } from "@pqm/core/reference";

export type { RandomSource } from "@pqm/core/reference";

/**
 * A seeded generator (mulberry32 over a splitmix-style mixed seed): the same seed always gives the
 * same sequence. `seed` may be any finite number; it is mixed to 32 bits (so 1 and 1.5 differ).
 */
export function createRandom(seed: number): RandomSource {
  return mulberry32(mixSeed(seed));
}

/**
 * Mixes several integers (a base seed, n, a question index...) into one 32-bit seed. Not @pqm/core's
 * `deriveSeed` (FNV-1a over typed parts): this hash picks the subsets and bootstrap resamples of every
 * evaluation, and changing it would change every reported interval. It is to be replaced by core's when
 * the demo's figures are next re-recorded.
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ mixSeed(part), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

function mixSeed(seed: number): number {
  // Fold the float's integer and fractional parts so seeds like 1 and 1.5 differ.
  let h = Math.floor(seed) | 0;
  h ^= Math.floor((seed - Math.floor(seed)) * 4294967296) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Draws `n` distinct indices from `0 .. m-1` uniformly (a partial Fisher-Yates shuffle of `pool`,
 * which must hold a permutation of `0 .. m-1` and is left permuted). Writes them to `out[0 .. n-1]`.
 * Throws a RangeError when `n > m`.
 */
export function sampleWithoutReplacement(
  pool: Int32Array,
  n: number,
  random: RandomSource,
  out: Int32Array,
): void {
  const m = pool.length;
  if (n > m) throw new RangeError(`cannot draw ${n} distinct items from ${m}`);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (m - i));
    const picked = pool[j]!;
    pool[j] = pool[i]!;
    pool[i] = picked;
    out[i] = picked;
  }
}
