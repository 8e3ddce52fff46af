import { describe, expect, it } from "vitest";
import { evaluateStepLabels } from "./step-labels.js";

describe("evaluateStepLabels", () => {
  it("pools steps, thresholds soft labels at 0.5 and scores at the threshold", () => {
    // Steps (score, label): (2, 1) (-1, 0) | (0.5, 0.75 -> correct) (0, 0.5 -> correct) (-2, 0.25 -> wrong).
    // Correct scores {2, 0.5, 0}, wrong {-1, -2}: every correct outscores every wrong -> AUROC 1.
    // Predictions at threshold 0 (score >= 0 is correct): 2 yes, -1 no, 0.5 yes, 0 yes, -2 no -> all agree: 1.
    const metrics = evaluateStepLabels([
      { stepScores: [2, -1], labels: [1, 0] },
      { stepScores: [0.5, 0, -2], labels: [0.75, 0.5, 0.25] },
    ]);
    expect(metrics).toMatchObject({ auroc: 1, accuracy: 1, positives: 3, negatives: 2, threshold: 0 });
  });

  it("accuracy depends on the threshold; AUROC does not", () => {
    // At threshold 1: 2 yes, -1 no, 0.5 no (label 1 -> miss), 0 no (miss), -2 no -> 3/5.
    const metrics = evaluateStepLabels(
      [
        { stepScores: [2, -1], labels: [1, 0] },
        { stepScores: [0.5, 0, -2], labels: [1, 1, 0] },
      ],
      { threshold: 1 },
    );
    expect(metrics.accuracy).toBeCloseTo(3 / 5, 12);
    expect(metrics.auroc).toBe(1);
  });

  it("refuses misaligned labels and labels outside [0, 1]", () => {
    expect(() => evaluateStepLabels([{ stepScores: [1, 2], labels: [1] }], { file: "l.jsonl" })).toThrow(
      /l\.jsonl: trajectory 0: 2 step scores but 1 labels/,
    );
    expect(() => evaluateStepLabels([{ stepScores: [1], labels: [-100] }])).toThrow(/outside \[0, 1\]/);
  });
});
