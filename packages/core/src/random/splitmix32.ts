/**
 * splitmix32: a small seeded generator whose whole state is one 32-bit integer, so a run can be saved
 * and resumed exactly, plus `deriveSeed` for independent streams keyed by names. Written here rather
 * than taken from a library because the arith environment needs three things together: a serializable
 * state, cheap derived streams keyed by strings and bit-identical output across platforms; a dozen
 * lines give all three.
 */
export class SeededRandom {
  #state: number;

  /** Starts a stream at `seed` (any finite number; it is reduced to 32 bits). */
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
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
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
 * Mixes a seed with any number of string or number parts into a new 32-bit seed (FNV-1a over the
 * parts, then a splitmix finalizer), so independent streams can be keyed by names such as
 * `("train", 17)` without sharing state. `"3"` and `3` are different parts.
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
