import { describe, expect, it } from "vitest";
import { checkQValueOrdering } from "./q-value-ordering.js";

describe("checkQValueOrdering", () => {
  it("accepts values in the Theorem 3.5 order and reports the chain bottom to top", () => {
    // labels: c w c w c -> chain w(3) < w(1) < Q_0 < c(0) < c(2) < c(4)
    const result = checkQValueOrdering({ qValues: [0.5, -1, 1, -2, 3], labels: [1, 0, 1, 0, 1], anchor: 0 });
    expect(result).toEqual({ holds: true, violations: [], chain: [3, 1, "anchor", 0, 2, 4] });
  });

  it("uses V(x) as the anchor for probabilities", () => {
    const qValues = [0.7, 0.9, 0.2];
    const labels = [1, 1, 0];
    expect(checkQValueOrdering({ qValues, labels, anchor: 0.6 }).holds).toBe(true);
    const result = checkQValueOrdering({ qValues, labels, anchor: 0.8 });
    expect(result.holds).toBe(false);
    expect(result.violations).toEqual([
      {
        relation: "anchor-below-correct",
        lower: "anchor",
        upper: 0,
        lowerValue: 0.8,
        upperValue: 0.7,
        message: "Q_0 = 0.8 should be < Q[0] = 0.7 (correct steps lie above Q_0)",
      },
    ]);
  });

  it("names every broken link: wrong steps rising, a wrong step above Q_0, correct steps falling", () => {
    // wrong at 0 (-1) and 2 (-0.5): the later wrong step is higher; wrong at 0 is fine against Q_0
    const rising = checkQValueOrdering({ qValues: [-1, 2, -0.5, 1], labels: [0, 1, 0, 1], anchor: 0 });
    expect(rising.violations.map((v) => [v.relation, v.lower, v.upper])).toEqual([
      ["wrong-steps-descend", 2, 0],
      ["correct-steps-ascend", 1, 3],
    ]);
    expect(rising.violations[0]!.message).toBe("Q[2] = -0.5 should be < Q[0] = -1 (wrong steps descend)");
    const above = checkQValueOrdering({ qValues: [0.1], labels: [0], anchor: 0 });
    expect(above.violations.map((v) => [v.relation, v.lower, v.upper])).toEqual([
      ["wrong-below-anchor", 0, "anchor"],
    ]);
  });

  it("counts equal neighbors as a violation unless strict is false", () => {
    const input = { qValues: [1, 1, -1], labels: [1, 1, 0], anchor: -1 };
    const strict = checkQValueOrdering(input);
    expect(strict.violations.map((v) => v.relation)).toEqual(["wrong-below-anchor", "correct-steps-ascend"]);
    expect(strict.violations[1]!.message).toContain("should be <");
    const loose = checkQValueOrdering({ ...input, strict: false });
    expect(loose).toEqual({ holds: true, violations: [], chain: [2, "anchor", 0, 1] });
  });

  it("skips padding and holds trivially for an empty trajectory", () => {
    expect(checkQValueOrdering({ qValues: [5, Number.NaN], labels: [1, -100], anchor: 0 }).chain).toEqual([
      "anchor",
      0,
    ]);
    expect(checkQValueOrdering({ qValues: [], labels: [], anchor: 0 }).holds).toBe(true);
  });

  it("rejects bad input naming the argument", () => {
    expect(() => checkQValueOrdering({ qValues: [1, 2], labels: [1], anchor: 0 })).toThrow(
      "qValues has 2 steps but labels has 1",
    );
    expect(() => checkQValueOrdering({ qValues: [1], labels: [0.5], anchor: 0 })).toThrow("labels[0] = 0.5");
    expect(() => checkQValueOrdering({ qValues: [Number.NaN], labels: [1], anchor: 0 })).toThrow(
      "qValues[0] = NaN",
    );
    expect(() => checkQValueOrdering({ qValues: [1], labels: [1], anchor: Number.NaN })).toThrow(
      "anchor = NaN",
    );
  });
});
