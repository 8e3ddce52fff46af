import { describe, expect, it } from "vitest";
import { learningRateAt } from "./learning-rate-schedule.js";

describe("learningRateAt", () => {
  const base = { peak: 1e-3, warmupSteps: 10, totalSteps: 110 };
  it("warms up linearly, then decays linearly to the minimum", () => {
    expect(learningRateAt(0, base)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(9, base)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(10, base)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(60, base)).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(110, base)).toBe(0);
    expect(learningRateAt(60, { ...base, minimum: 1e-4 })).toBeCloseTo(5.5e-4, 12);
  });
  it("decays along a half cosine, or stays constant", () => {
    expect(learningRateAt(60, { ...base, decay: "cosine" })).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(35, { ...base, decay: "cosine" })).toBeCloseTo(
      5e-4 * (1 + Math.cos(Math.PI / 4)),
      12,
    );
    expect(learningRateAt(100, { ...base, decay: "constant" })).toBe(1e-3);
  });
  it("rejects nonsense", () => {
    expect(() => learningRateAt(-1, base)).toThrow(RangeError);
    expect(() => learningRateAt(0, { ...base, peak: 0 })).toThrow(/learning rate/);
  });
});
