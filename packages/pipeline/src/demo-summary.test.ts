import { describe, expect, it } from "vitest";
import { overSeeds } from "./demo-summary.js";

describe("overSeeds", () => {
  it("gives the mean and Student's t interval over seeds (3 seeds: t = 4.303 with 2 degrees of freedom)", () => {
    // mean 0.5; sample sd = sqrt(((0.1)^2 + 0 + (0.1)^2) / 2) = 0.1; half width = 4.303 * 0.1 / sqrt(3).
    const value = overSeeds([0.4, 0.5, 0.6]);
    const half = (4.303 * 0.1) / Math.sqrt(3);
    expect(value.mean).toBeCloseTo(0.5, 12);
    expect(value.low).toBeCloseTo(0.5 - half, 12);
    expect(value.high).toBeCloseTo(0.5 + half, 12);
    expect(value.interval).toBe("t over seeds");
  });

  it("clips the interval to the bounds of the quantity", () => {
    const value = overSeeds([0.97, 1, 1], undefined, [0, 1]);
    expect(value.high).toBe(1);
    expect(value.low).toBeLessThan(value.mean);
  });

  it("uses a single run's own interval, and says when there is none", () => {
    expect(overSeeds([0.3], { low: 0.2, high: 0.4 })).toEqual({
      mean: 0.3,
      low: 0.2,
      high: 0.4,
      interval: "bootstrap over questions",
    });
    expect(overSeeds([0.3]).interval).toBe("none");
    expect(overSeeds([Number.NaN]).interval).toBe("none");
  });
});
