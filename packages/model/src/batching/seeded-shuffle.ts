// Batching needs only a reproducible shuffle from (seed, epoch), with no generator state to save:
// @pqm/core's mulberry32 gives the stream, seeded by `deriveSeed` below.

/**
 * Mixes a seed with further integers (an epoch, a bucket) into one 32-bit seed. Not @pqm/core's
 * `deriveSeed` (FNV-1a over typed parts): this hash seeds the shuffles, dropout masks and validation
 * split of every training run, and changing it would change every trained model's numbers. It is to
 * be replaced by core's when the demo's figures are next re-recorded.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let hash = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  for (const part of parts) {
    hash = Math.imul(hash ^ (Math.trunc(part) >>> 0), 0x85ebca6b) >>> 0;
    hash = (hash ^ (hash >>> 13)) >>> 0;
  }
  return hash;
}

/** Fisher-Yates shuffle of a copy of `items`, reproducible from `random`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let index = out.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [out[index], out[other]] = [out[other]!, out[index]!];
  }
  return out;
}
