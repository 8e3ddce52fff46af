import { describe, expect, it } from "vitest";
import { createRandom, deriveSeed, sampleWithoutReplacement } from "./random.js";

// Pinned values: every subset draw and bootstrap resample of an evaluation depends on these streams,
// so a result file that names its seed reproduces only while they hold.
describe("createRandom and deriveSeed", () => {
  it("keep their streams", () => {
    const random = createRandom(42);
    expect([random(), random(), random()]).toEqual([
      0.18946275836788118, 0.6580629078671336, 0.31931386212818325,
    ]);
    const fractional = createRandom(1.5);
    expect([fractional(), fractional()]).toEqual([0.5468338991049677, 0.9365334645844996]);
    expect(deriveSeed(0, 0xb007)).toBe(2489017406);
    expect(deriveSeed(5, 8, 2)).toBe(3270101813);
  });

  it("tell fractional seeds apart", () => {
    expect(createRandom(1)()).not.toBe(createRandom(1.5)());
  });
});

describe("sampleWithoutReplacement", () => {
  it("draws distinct indices and refuses more than there are", () => {
    const pool = Int32Array.from({ length: 10 }, (_, i) => i);
    const out = new Int32Array(6);
    sampleWithoutReplacement(pool, 6, createRandom(3), out);
    expect(new Set(out).size).toBe(6);
    expect([...pool].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => sampleWithoutReplacement(pool, 11, createRandom(3), new Int32Array(11))).toThrow(RangeError);
  });
});
