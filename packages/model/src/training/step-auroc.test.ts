import { describe, expect, it } from "vitest";
import { stepAuroc } from "./step-auroc.js";

function bruteForce(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((positive, i) => {
    if (labels[i] !== 1) return;
    scores.forEach((negative, j) => {
      if (labels[j] !== 0) return;
      pairs++;
      wins += positive > negative ? 1 : positive === negative ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe("stepAuroc", () => {
  it("equals the pairwise win rate, ties counting one half", () => {
    let seed = 3;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 20; trial++) {
      const scores = Array.from({ length: 40 }, () => Math.round(random() * 8) / 2);
      const labels = scores.map(() => (random() < 0.6 ? 1 : 0));
      expect(stepAuroc(scores, labels)).toBeCloseTo(bruteForce(scores, labels), 12);
    }
  });
  it("is 1 for a perfect ranking, 0 for a reversed one, NaN with one class", () => {
    expect(stepAuroc([0.1, 0.2, 0.9], [0, 0, 1])).toBe(1);
    expect(stepAuroc([0.9, 0.2, 0.1], [0, 1, 1])).toBe(0);
    expect(stepAuroc([1, 2], [1, 1])).toBeNaN();
  });
  it("rejects bad input", () => {
    expect(() => stepAuroc([1], [1, 0])).toThrow(/1 scores for 2 labels/);
    expect(() => stepAuroc([1, 2], [1, 2])).toThrow(/label 2/);
  });
});
