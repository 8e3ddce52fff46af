import { describe, expect, it } from "vitest";
import { spearman } from "./correlation.js";

describe("spearman", () => {
  it("matches a hand computation with ties", () => {
    // x = [1, 2, 2, 3] -> ranks [1, 2.5, 2.5, 4]; y = [1, 2, 3, 4] -> ranks [1, 2, 3, 4]; both mean 2.5.
    // dx = [-1.5, 0, 0, 1.5], dy = [-1.5, -0.5, 0.5, 1.5]: sxy = 4.5, sxx = 4.5, syy = 5.
    // rho = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10) = 0.9486833.
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(3 / Math.sqrt(10), 12);
  });

  it("is 1 for any increasing map and -1 for a decreasing one", () => {
    expect(spearman([0.1, 0.5, 0.9], [-3, 10, 100])).toBeCloseTo(1, 12);
    expect(spearman([3, 2, 1], [1, 2, 3])).toBeCloseTo(-1, 12);
  });

  it("matches the classic no-ties formula 1 - 6 sum d^2 / (n (n^2 - 1))", () => {
    // ranks x [1,2,3,4,5], y [2,1,4,3,5]: d^2 = 1+1+1+1+0 = 4 -> 1 - 24/120 = 0.8.
    expect(spearman([10, 20, 30, 40, 50], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
  });

  it("is NaN for a constant side or fewer than two pairs; refuses mismatched lengths", () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(spearman([1], [1])).toBeNaN();
    expect(() => spearman([1, 2], [1])).toThrow(RangeError);
  });
});
