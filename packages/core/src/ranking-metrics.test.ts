import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { auroc, midranks } from "./ranking-metrics.js";

/** The definition: the share of (positive, negative) pairs the positive wins, ties counting one half. */
function pairwiseWinRate(scores: readonly number[], labels: readonly boolean[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((positive, i) => {
    if (!labels[i]) return;
    scores.forEach((negative, j) => {
      if (labels[j]) return;
      pairs++;
      wins += positive > negative ? 1 : positive === negative ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe("midranks", () => {
  it("gives tied values the mean of their ranks", () => {
    // Sorted: 10 (rank 1), 20, 20 (ranks 2 and 3 -> 2.5), 30 (rank 4).
    expect([...midranks([20, 10, 30, 20])]).toEqual([2.5, 1, 4, 2.5]);
    // Three-way tie over ranks 1..3 -> 2.
    expect([...midranks([5, 5, 5, 9])]).toEqual([2, 2, 2, 4]);
  });

  it("refuses NaN, naming its index", () => {
    expect(() => midranks([1, Number.NaN])).toThrow(/value 1 is NaN/);
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

  it("equals the pairwise win rate on random scores with many ties", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.boolean()), { minLength: 2, maxLength: 60 }),
        (pairs) => {
          const scores = pairs.map(([score]) => score / 2);
          const labels = pairs.map(([, label]) => label);
          const expected =
            labels.every(Boolean) || !labels.some(Boolean) ? Number.NaN : pairwiseWinRate(scores, labels);
          const got = auroc(scores, labels);
          if (Number.isNaN(expected)) expect(got).toBeNaN();
          else expect(got).toBeCloseTo(expected, 12);
        },
      ),
    );
  });

  it("takes hard labels (1 and 0) as well as booleans, with the same result", () => {
    const scores = [0.3, 0.9, 0.1, 0.5, 0.5];
    expect(auroc(scores, [1, 1, 0, 0, 1])).toBe(auroc(scores, [true, true, false, false, true]));
    expect(auroc(Float32Array.from([0.1, 0.2, 0.9]), Int32Array.from([0, 0, 1]))).toBe(1);
  });

  it("is 1 for a perfect ranking, 0 for a reversed one, NaN with one class", () => {
    expect(auroc([3, 4, 1, 2], [true, true, false, false])).toBe(1);
    expect(auroc([3, 4, 1, 2], [false, false, true, true])).toBe(0);
    expect(auroc([1, 2], [true, true])).toBeNaN();
    expect(auroc([1, 2], [0, 0])).toBeNaN();
    expect(auroc([], [])).toBeNaN();
  });

  it("refuses mismatched lengths, NaN scores and labels other than 0 and 1", () => {
    expect(() => auroc([1, 2], [true])).toThrow(/2 scores but 1 labels/);
    expect(() => auroc([1, Number.NaN], [true, false])).toThrow(/NaN/);
    expect(() => auroc([1, 2], [1, 2])).toThrow(/label 1 is 2, not 0 or 1/);
  });
});
