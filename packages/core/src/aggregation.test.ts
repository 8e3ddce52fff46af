import { describe, expect, it } from "vitest";
import {
  aggregateStepScores,
  aggregationNames,
  getAggregation,
  lastScore,
  logSigmoid,
  maxScore,
  meanScore,
  minScore,
  productOfSigmoids,
  sigmoid,
  sumOfLogSigmoids,
} from "./aggregation.js";

describe("step-score aggregation", () => {
  const scores = [0.5, -2, 3, Math.log(3)];

  it("computes min, max, last and mean", () => {
    expect(minScore(scores)).toBe(-2);
    expect(maxScore(scores)).toBe(3);
    expect(lastScore(scores)).toBe(Math.log(3));
    expect(meanScore([1, 2, 6])).toBe(3);
  });

  it("computes the product of sigmoids and its log", () => {
    // sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4: product 3/8
    expect(productOfSigmoids([0, Math.log(3)])).toBeCloseTo(3 / 8, 12);
    expect(sumOfLogSigmoids([0, Math.log(3)])).toBeCloseTo(Math.log(3 / 8), 12);
  });

  it("keeps sigmoid and logSigmoid finite and exact at the extremes", () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(800)).toBe(1);
    expect(sigmoid(-800)).toBe(0);
    expect(logSigmoid(-800)).toBeCloseTo(-800, 9);
    expect(logSigmoid(800)).toBe(-0);
    expect(sumOfLogSigmoids([-1000, -1000])).toBeCloseTo(-2000, 9);
  });

  it("finds every aggregation by name, min by default", () => {
    for (const name of aggregationNames) expect(typeof getAggregation(name)).toBe("function");
    expect(aggregateStepScores(scores)).toBe(-2);
    expect(aggregateStepScores(scores, "last")).toBe(Math.log(3));
    expect(aggregateStepScores(scores, "max")).toBe(3);
  });

  it("rejects unknown names, empty and NaN scores", () => {
    expect(() => getAggregation("median")).toThrow("unknown aggregation 'median' (known: min, max");
    expect(() => minScore([])).toThrow("stepScores is empty");
    expect(() => meanScore([1, Number.NaN])).toThrow("stepScores[1] is NaN");
    expect(() => sumOfLogSigmoids([])).toThrow(RangeError);
  });
});
