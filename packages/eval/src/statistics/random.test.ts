import { describe, expect, it } from "vitest";
import { createRandom, sampleWithoutReplacement } from "./random.js";

// Pinned values: every subset draw and bootstrap resample of an evaluation depends on these streams,
// so a result file that names its seed reproduces only while they hold.
describe("createRandom", () => {
  it("keeps its stream", () => {
    const random = createRandom(42);
    expect([random(), random(), random()]).toEqual([
      0.2356084908824414, 0.7136535153258592, 0.6865613171830773,
    ]);
    const fractional = createRandom(1.5);
    expect([fractional(), fractional()]).toEqual([0.1715073068626225, 0.5462346815038472]);
  });

  it("tells fractional seeds apart", () => {
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
