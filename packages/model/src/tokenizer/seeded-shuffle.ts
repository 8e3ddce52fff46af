// A 20-line generator is written here instead of adding a dependency: batching needs only a
// reproducible shuffle from (seed, epoch), with no generator state to save, which mulberry32 gives.

/**
 * A pseudo-random generator (mulberry32) returning floats in [0, 1), fully determined by `seed`
 * (any number; it is folded to 32 bits).
 */
export function seededRandom(seed: number): () => number {
  let state = Math.trunc(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed with further integers (an epoch, a bucket) into one 32-bit seed. */
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
