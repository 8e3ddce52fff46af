/**
 * The toolkit's one seeded generator (the mulberry32 algorithm) and `deriveSeed`, which keys
 * independent streams by names. Every seeded result of pqm (arith problems and samples, Monte-Carlo
 * rollouts, batch shuffles, dropout masks, best-of-n subsets, bootstrap resamples) comes from this
 * stream, so a result file that names its seed reproduces exactly on every platform.
 *
 * Written here rather than taken from a library because three things are needed together: a state
 * that is one 32-bit integer (saved and resumed exactly), output that is bit-identical across
 * platforms and versions, and speed in hot loops; mulberry32 gives all three in a dozen lines.
 */

/** A generator of uniform floats in [0, 1). */
export type RandomSource = () => number;

/** A seeded stream of 32-bit integers and floats whose whole state is one 32-bit integer. */
export class SeededRandom {
  #state: number;

  /**
   * Starts a stream at `seed`, reduced to 32 bits as `seed >>> 0` (so `1.7` and `1` give the same
   * stream, and `-1` the same as `2 ** 32 - 1`).
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The generator's state: pass it to `SeededRandom.fromState` to continue the same stream. */
  get state(): number {
    return this.#state;
  }

  /** Continues a stream from a state read from `state`. */
  static fromState(state: number): SeededRandom {
    return new SeededRandom(state);
  }

  /** The next 32-bit unsigned integer of the stream. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let mixed = this.#state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return (mixed ^ (mixed >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [min, max], both inclusive. Throws when `max < min`. */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
      throw new RangeError(`SeededRandom.int: bad range [${min}, ${max}]`);
    }
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A uniformly chosen element of a non-empty array. Throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("SeededRandom.pick: empty array");
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/**
 * The floats of a {@link SeededRandom} stream started at `seed`, as a plain function (for hot loops
 * and APIs that take a `RandomSource`). The same seed always gives the same sequence.
 */
export function mulberry32(seed: number): RandomSource {
  const random = new SeededRandom(seed);
  return () => random.next();
}

/**
 * Mixes a seed with any number of string or number parts into a new 32-bit seed (FNV-1a over the
 * parts, then one step of the generator as a finalizer), so independent streams can be keyed by
 * names such as `("train", 17)` without sharing state. `"3"` and `3` are different parts, and so are
 * `1` and `1.5`.
 */
export function deriveSeed(seed: number, ...parts: ReadonlyArray<string | number>): number {
  let hash = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (const part of parts) {
    const text = `${typeof part}:${part}|`;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  }
  return new SeededRandom(hash).nextUint32();
}
