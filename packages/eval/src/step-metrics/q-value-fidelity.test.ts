import { describe, expect, it } from "vitest";
import {
  evaluateQValueFidelity,
  type QValueOrderingCheck,
  theoremOrderingCheck,
} from "./q-value-fidelity.js";

// A hand-written ordering (no anchor): correct steps ascend, wrong steps descend, every wrong step
// below every correct one.
const orderingCheck: QValueOrderingCheck = (scores, labels) => {
  const correct = scores.filter((_, s) => labels[s] === 1);
  const wrong = scores.filter((_, s) => labels[s] === 0);
  const ascending = correct.every((v, k) => k === 0 || v > correct[k - 1]!);
  const descending = wrong.every((v, k) => k === 0 || v < wrong[k - 1]!);
  return (
    ascending &&
    descending &&
    (wrong.length === 0 || correct.length === 0 || Math.max(...wrong) < Math.min(...correct))
  );
};

describe("evaluateQValueFidelity", () => {
  it("pools and averages Spearman, and counts trajectories satisfying the ordering", () => {
    const trajectories = [
      // Scores rank like the Q-values (rho 1); labels 1,1 with ascending scores: ordering holds.
      { stepScores: [0.1, 0.9], qValues: [0.4, 0.8], hardLabels: [1, 1] },
      // Reversed (rho -1); labels 1,1 with descending scores: ordering fails.
      { stepScores: [2, 1], qValues: [0.2, 0.6], hardLabels: [1, 1] },
      // One step: no per-trajectory rho; wrong step alone: ordering holds.
      { stepScores: [-3], qValues: [0], hardLabels: [0] },
    ];
    const result = evaluateQValueFidelity(trajectories, orderingCheck);
    // Per trajectory: (1 + -1) / 2 = 0 over the two with two steps.
    expect(result.spearmanMeanPerTrajectory).toBeCloseTo(0, 12);
    expect(result.trajectoriesWithSpearman).toBe(2);
    // Pooled: scores [0.1, 0.9, 2, 1, -3] -> ranks [2, 3, 5, 4, 1]; Q [0.4, 0.8, 0.2, 0.6, 0] -> ranks
    // [3, 5, 2, 4, 1]. d = [-1, -2, 3, 0, 0], sum d^2 = 14: rho = 1 - 6*14/(5*24) = 0.3.
    expect(result.spearmanPooled).toBeCloseTo(0.3, 12);
    expect(result.orderingShare).toBeCloseTo(2 / 3, 12);
    expect(result.orderingChecked).toBe(3);
    expect(result.steps).toBe(5);
  });

  it("uses @pqm/core's Theorem 3.5 check with the anchor at 0 by default", () => {
    const result = evaluateQValueFidelity([
      // Wrong steps -1 > -2 descend below 0, correct steps 1 < 3 ascend above 0: holds.
      { stepScores: [1, -1, 3, -2], qValues: [0.6, 0.1, 0.9, 0], hardLabels: [1, 0, 1, 0] },
      // A correct step below the anchor 0: fails.
      { stepScores: [-0.5, 2], qValues: [0.5, 0.9], hardLabels: [1, 1] },
    ]);
    expect(result.orderingShare).toBe(0.5);
    expect(theoremOrderingCheck(-1)([-0.5, 2], [1, 1])).toBe(true);
  });

  it("reports no ordering share when the check is null, and refuses misaligned input", () => {
    expect(
      evaluateQValueFidelity([{ stepScores: [1, 2], qValues: [0.1, 0.2] }], null).orderingShare,
    ).toBeNull();
    expect(() => evaluateQValueFidelity([{ stepScores: [1, 2], qValues: [0.1] }], null, "q.json")).toThrow(
      /q\.json: trajectory 0: 2 step scores but 1 Q-values/,
    );
  });
});
