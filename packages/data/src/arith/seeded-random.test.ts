import { describe, expect, it } from "vitest";
import { deriveSeed, SeededRandom } from "./seeded-random.js";

describe("SeededRandom", () => {
  it("repeats a stream for a seed and differs across seeds", () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const drawsA = Array.from({ length: 50 }, () => a.nextUint32());
    const drawsB = Array.from({ length: 50 }, () => b.nextUint32());
    const drawsC = Array.from({ length: 50 }, () => c.nextUint32());
    expect(drawsA).toEqual(drawsB);
    expect(drawsA).not.toEqual(drawsC);
  });

  it("continues exactly from a saved state", () => {
    const a = new SeededRandom(7);
    for (let i = 0; i < 13; i++) a.next();
    const saved = JSON.parse(JSON.stringify({ state: a.state })) as { state: number };
    const b = SeededRandom.fromState(saved.state);
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(Array.from({ length: 20 }, () => a.next()));
  });

  it("draws integers uniformly within the bounds", () => {
    const rng = new SeededRandom(1);
    const counts = new Map<number, number>();
    for (let i = 0; i < 60_000; i++) {
      const value = rng.int(3, 8);
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([3, 4, 5, 6, 7, 8]);
    // Each count is Binomial(60000, 1/6): sd about 91; 6 sd is a generous bound.
    for (const count of counts.values()) expect(Math.abs(count - 10_000)).toBeLessThan(550);
    expect(() => rng.int(5, 4)).toThrow(RangeError);
  });

  it("derives distinct seeds from distinct parts", () => {
    expect(deriveSeed(1, "train", 3)).toBe(deriveSeed(1, "train", 3));
    expect(deriveSeed(1, "train", 3)).not.toBe(deriveSeed(1, "test", 3));
    expect(deriveSeed(1, "3")).not.toBe(deriveSeed(1, 3));
  });
});
