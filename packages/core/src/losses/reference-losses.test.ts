import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lossNames } from "./loss-definitions.js";
import { lossTestVectors } from "./loss-test-vectors.js";
import { LossInputError } from "./loss-validation.js";
import { referenceLoss } from "./reference-losses.js";

const P = -100;

/**
 * The PQM losses written straight from the formulas of docs/method.md, section 4, with plain exp/log
 * and no log-sum-exp:
 * an independent check of the log-space reference where exp does not overflow (float64: |x| < 700).
 */
function directPqm(
  variant: "pqm" | "pqm-paper" | "pqm-theory" | "pqm-ablation",
  scores: number[],
  labels: number[],
  zeta: number,
): number {
  const eps = 1e-5;
  const r = scores.filter((_, i) => labels[i] !== P);
  const l = labels.filter((label) => label !== P);
  const firstWrong = l.indexOf(0);
  let S = 0;
  for (let i = 0; i < l.length; i++) {
    if (l[i] !== 0) continue;
    if (variant === "pqm-ablation") {
      if (i === firstWrong) S += Math.exp(r[i]!);
    } else S += Math.exp(r[i]! + zeta);
  }
  const terms: number[] = [];
  if (l.includes(0)) terms.push(-Math.log(1 / (1 + S + eps)));
  let P_k = 1;
  for (let i = 0; i < l.length; i++) {
    if (l[i] !== 1) continue;
    const own = Math.exp(r[i]!);
    const doubled = (variant === "pqm-paper" || variant === "pqm-theory") && i >= 1;
    terms.push(-Math.log(own / ((doubled ? 2 * own : own) + P_k + S + eps)));
    P_k += own;
  }
  const total = terms.reduce((a, b) => a + b, 0);
  if (variant !== "pqm-theory") return total / terms.length;
  let wrongPart = 0;
  const wrongScores = r.filter((_, i) => l[i] === 0);
  for (let k = 0; k + 1 < wrongScores.length; k++) {
    const later = wrongScores.slice(k + 1).reduce((a, x) => a + Math.exp(x), 0);
    wrongPart += -Math.log(Math.exp(wrongScores[k]!) / (Math.exp(wrongScores[k]!) + later + eps));
  }
  return total / (l.length + 1) + wrongPart / l.length;
}

const trajectory = fc.integer({ min: 1, max: 8 }).chain((length) =>
  fc.record({
    scores: fc.array(fc.double({ min: -100, max: 100, noNaN: true }), {
      minLength: length,
      maxLength: length,
    }),
    labels: fc.array(fc.constantFrom(0, 1), { minLength: length, maxLength: length }),
  }),
);

describe("referenceLoss", () => {
  for (const vector of lossTestVectors) {
    it(`${vector.title}: ${vector.loss} = ${vector.expected.toFixed(6)}`, () => {
      const value = referenceLoss(vector.loss, vector.scores, vector.labels, { zeta: vector.zeta ?? 4 });
      expect(Math.abs(value - vector.expected)).toBeLessThan(1e-5);
    });
  }

  it("uses zeta = 4 by default, and zeta changes the margin losses", () => {
    const scores = [[1, 2, 3, -1]];
    const labels = [[1, 1, 1, 0]];
    expect(referenceLoss("pqm", scores, labels)).toBe(referenceLoss("pqm", scores, labels, { zeta: 4 }));
    expect(referenceLoss("pqm", scores, labels, { zeta: 2 })).toBeLessThan(
      referenceLoss("pqm", scores, labels),
    );
    // The ablation form has no margin.
    expect(referenceLoss("pqm-ablation", scores, labels, { zeta: 0 })).toBe(
      referenceLoss("pqm-ablation", scores, labels, { zeta: 8 }),
    );
  });

  it("matches the direct (non-log-space) form of every PQM loss for scores in [-100, 100]", () => {
    fc.assert(
      fc.property(trajectory, fc.double({ min: 0, max: 8, noNaN: true }), ({ scores, labels }, zeta) => {
        for (const variant of ["pqm", "pqm-paper", "pqm-theory", "pqm-ablation"] as const) {
          const logSpace = referenceLoss(variant, [scores], [labels], { zeta });
          const direct = directPqm(variant, scores, labels, zeta);
          expect(Math.abs(logSpace - direct)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(direct)));
        }
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it("stays finite where the direct form overflows (scores of +-800)", () => {
    const scores = [[800, -800, 800, -800]];
    const labels = [[1, 0, 1, 0]];
    expect(directPqm("pqm", scores[0]!, labels[0]!, 4)).toBeNaN();
    for (const name of lossNames) {
      const hard = name === "bce" || name === "mse" ? labels : labels;
      expect(Number.isFinite(referenceLoss(name, scores, hard))).toBe(true);
    }
    // r = [800 correct, -800 wrong, 800 correct, -800 wrong]: S ~ 0, so term_0 = ln(1 + eps) ~ 1e-5;
    // c1: ln(e^800 + 1 + ...) - 800 ~ 0; c2: ln(e^800 + 1 + e^800) - 800 = ln 2.
    expect(referenceLoss("pqm", scores, labels)).toBeCloseTo((1e-5 + 0 + Math.LN2) / 3, 8);
  });

  it("ignores padded positions whatever their scores, and rows that are all padding", () => {
    for (const name of lossNames) {
      const unpadded = referenceLoss(name, [[0.5, -1, 2]], [[1, 0, 1]]);
      const padded = referenceLoss(
        name,
        [
          [0.5, -1, 2, 1e6],
          [3, 3, 3, 3],
        ],
        [
          [1, 0, 1, P],
          [P, P, P, P],
        ],
      );
      expect(padded).toBeCloseTo(unpadded, 12);
    }
  });

  it("averages the PQM losses per trajectory and BCE/MSE per step (pooled)", () => {
    const scores = [[0.3, -0.2, 1], [2]];
    const labels = [[1, 0, 1], [1]];
    for (const name of ["pqm", "pqm-theory", "orm"] as const) {
      const mean =
        (referenceLoss(name, [scores[0]!], [labels[0]!]) + referenceLoss(name, [scores[1]!], [labels[1]!])) /
        2;
      expect(referenceLoss(name, scores, labels)).toBeCloseTo(mean, 12);
    }
    for (const name of ["bce", "mse"] as const) {
      const pooled =
        (3 * referenceLoss(name, [scores[0]!], [labels[0]!]) +
          referenceLoss(name, [scores[1]!], [labels[1]!])) /
        4;
      expect(referenceLoss(name, scores, labels)).toBeCloseTo(pooled, 12);
    }
  });

  it("gives 0 for a batch without any valid step", () => {
    for (const name of lossNames) {
      expect(referenceLoss(name, [[1, 2]], [[P, P]])).toBe(0);
      expect(referenceLoss(name, [], [])).toBe(0);
    }
  });

  it("rejects bad input with messages that name the argument and the value", () => {
    expect(() => referenceLoss("pqm", [[0, 0, 0, 0, 0, 0]], [[1, 1, 1, 1, 1, 0.5]])).toThrow(
      "labels[0][5] = 0.5: the pqm losses take hard labels 0 or 1 (or -100 for padding)",
    );
    expect(() => referenceLoss("orm", [[0]], [[0.5]])).toThrow(
      "labels[0][0] = 0.5: loss 'orm' takes hard labels",
    );
    expect(() => referenceLoss("bce", [[0]], [[1.5]])).toThrow(
      "labels[0][0] = 1.5: loss 'bce' takes labels in [0, 1]",
    );
    expect(() => referenceLoss("mse", [[0]], [[-1]])).toThrow("labels[0][0] = -1");
    expect(() => referenceLoss("bce", [[0]], [[Number.NaN]])).toThrow("labels[0][0] = NaN");
    expect(() => referenceLoss("pqm", [[0, 1]], [[1]])).toThrow("scores[0] has 2 steps but labels[0] has 1");
    expect(() => referenceLoss("pqm", [[0]], [[1], [1]])).toThrow("scores has 1 rows but labels has 2");
    expect(() => referenceLoss("pqm", [[Number.NaN]], [[1]])).toThrow("scores[0][0] = NaN");
    expect(() => referenceLoss("pqm", [[Number.POSITIVE_INFINITY]], [[1]])).toThrow(
      "scores[0][0] = Infinity",
    );
    expect(() => referenceLoss("pqm", [[0]], [[1]], { zeta: -1 })).toThrow("zeta = -1");
    expect(() => referenceLoss("pqm", [[0]], [[1]], { zeta: Number.NaN })).toThrow("zeta = NaN");
    expect(() => referenceLoss("pqm", [[0]], [[1]], { zeta: Number.POSITIVE_INFINITY })).toThrow(
      "zeta = Infinity",
    );
    expect(() => referenceLoss("rank", [[0]], [[1]])).toThrow(
      "loss = 'rank': unknown loss (known: pqm, pqm-paper",
    );
    expect(() => referenceLoss("pqm", [[0]], [[1]], { zeta: -1 })).toThrow(LossInputError);
  });
});
