/**
 * Seeded pseudo-random numbers for the `subsets` protocol and the bootstrap: @pqm/core's generator,
 * seeded through its `deriveSeed` (a result file names its seed and must reproduce exactly).
 */
import { deriveSeed, mulberry32, type RandomSource } from "@pqm/core/reference";

export type { RandomSource } from "@pqm/core/reference";

/**
 * A seeded generator: the same seed always gives the same sequence. `seed` may be any finite number;
 * it is hashed whole (so 1 and 1.5 differ).
 */
export function createRandom(seed: number): RandomSource {
  return mulberry32(deriveSeed(0, seed));
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
