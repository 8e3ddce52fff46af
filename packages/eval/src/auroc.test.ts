import { describe, expect, it } from "vitest";
import { auroc } from "./auroc.js";
import { midranks } from "./ranks.js";

describe("midranks", () => {
  it("gives tied values the mean of their ranks", () => {
    // Sorted: 10 (rank 1), 20, 20 (ranks 2 and 3 -> 2.5), 30 (rank 4).
    expect([...midranks([20, 10, 30, 20])]).toEqual([2.5, 1, 4, 2.5]);
    // Three-way tie over ranks 1..3 -> 2.
    expect([...midranks([5, 5, 5, 9])]).toEqual([2, 2, 2, 4]);
  });
});

describe("auroc", () => {
  it("counts the pairs a positive outscores (no ties)", () => {
    // Positives {0.35, 0.8}, negatives {0.1, 0.4}: 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes = 3/4.
    expect(auroc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
  });

  it("counts ties as one half (Mann-Whitney with midranks)", () => {
    // Positives {2, 3}, negatives {1, 2}: 2>1 = 1, 2=2 = 0.5, 3>1 = 1, 3>2 = 1 -> 3.5/4 = 0.875.
    // Midranks [1, 2.5, 2.5, 4]: R+ = 2.5 + 4 = 6.5, U = 6.5 - 3 = 3.5.
    expect(auroc([1, 2, 2, 3], [false, true, false, true])).toBe(0.875);
    // All scores equal: every pair ties -> 0.5.
    expect(auroc([7, 7, 7], [true, false, true])).toBe(0.5);
  });

  it("is 1 for a perfect ranking, 0 for a reversed one, NaN with one class", () => {
    expect(auroc([3, 4, 1, 2], [true, true, false, false])).toBe(1);
    expect(auroc([3, 4, 1, 2], [false, false, true, true])).toBe(0);
    expect(auroc([1, 2], [true, true])).toBeNaN();
  });

  it("refuses mismatched lengths and NaN", () => {
    expect(() => auroc([1, 2], [true])).toThrow(/2 scores but 1 labels/);
    expect(() => auroc([1, Number.NaN], [true, false])).toThrow(/NaN/);
  });
});
