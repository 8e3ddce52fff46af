import { readFile } from "node:fs/promises";
import type { LabeledTrajectory } from "@pqm/core/reference";
import { readProcessBench } from "@pqm/data";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { describe, expect, it } from "vitest";
import { createRandom } from "../statistics/random.js";
import {
  chooseProcessBenchThreshold,
  evaluateProcessBench,
  firstWrongStep,
  type ProcessBenchItem,
  predictFirstWrongStep,
  processBenchMetrics,
} from "./processbench.js";

// Hand fixture: A and C have errors (first wrong step 1 and 0), B and D are correct.
const items: ProcessBenchItem[] = [
  { label: 1, stepScores: [2, -1, 0.5] }, // A
  { label: -1, stepScores: [1, 0.5, 2] }, // B
  { label: 0, stepScores: [-0.5, 1] }, // C
  { label: -1, stepScores: [0.2, -0.3] }, // D
];

describe("ProcessBench metrics on a hand fixture", () => {
  it("predicts the first step under the threshold", () => {
    expect(predictFirstWrongStep([2, -1, 0.5], 0)).toBe(1);
    expect(predictFirstWrongStep([1, 0.5, 2], 0)).toBe(-1);
    // Strictly under: a score equal to the threshold is not flagged.
    expect(predictFirstWrongStep([0, 0], 0)).toBe(-1);
  });

  it("computes error accuracy, correct accuracy and F1 at a threshold", () => {
    // At 0: A -> 1 right; C -> 0 right; B -> -1 right; D -> step 1 (-0.3 < 0) wrong.
    // Error accuracy 2/2 = 1, correct accuracy 1/2, F1 = 2 * 1 * 0.5 / 1.5 = 2/3.
    const metrics = processBenchMetrics(items, 0);
    expect(metrics.errorAccuracy).toBe(1);
    expect(metrics.correctAccuracy).toBe(0.5);
    expect(metrics.f1).toBeCloseTo(2 / 3, 12);
  });

  it("chooses the threshold maximizing F1", () => {
    // Each item is right on an interval of thresholds t (a step is flagged when score < t):
    //   A (label 1, prefix minima [2, -1, -1]): (-1, 2];  C (label 0): (-0.5, inf);
    //   B (minima end at 0.5): (-inf, 0.5];               D (minima end at -0.3): (-inf, -0.3].
    // Candidates -1, -0.5, -0.3, 0.2, 0.5, 1, 2, inf. At -0.3 all four are right: F1 = 1;
    // at -0.5 C fails (F1 2/3), at 0.2 D fails (F1 2/3).
    const best = chooseProcessBenchThreshold(items);
    expect(best.threshold).toBe(-0.3);
    expect(best.f1).toBe(1);
    // The sweep agrees with direct evaluation at every candidate.
    for (const t of [-1, -0.5, -0.3, 0.2, 0.5, 1, 2]) {
      expect(processBenchMetrics(items, t).f1).toBeLessThanOrEqual(best.f1);
    }
  });

  it("applies the threshold chosen on one subset to the others", () => {
    const other: ProcessBenchItem[] = [
      { label: -1, stepScores: [-0.1] }, // -0.1 >= -0.3: right
      { label: 0, stepScores: [-0.4, 3] }, // -0.4 < -0.3: right
      { label: 1, stepScores: [1, 0] }, // 0 is not under -0.3: predicted -1, wrong
    ];
    const result = evaluateProcessBench({ hand: items, other }, "hand");
    expect(result.threshold).toBe(-0.3);
    expect(result.subsets.other!.errorAccuracy).toBe(0.5);
    expect(result.subsets.other!.correctAccuracy).toBe(1);
    expect(result.heldOutMeanF1).toBeCloseTo(2 / 3, 12);
    expect(() => evaluateProcessBench({ hand: items }, "nope")).toThrow(/unknown threshold subset 'nope'/);
  });

  it("uses a fixed threshold of sigmoid(score) < 0.5 by default, on every subset", () => {
    const other: ProcessBenchItem[] = [
      { label: -1, stepScores: [-0.1] }, // sigmoid(-0.1) < 0.5: flagged, wrong
      { label: 0, stepScores: [-0.4, 3] }, // flagged at 0: right
    ];
    const result = evaluateProcessBench({ hand: items, other });
    expect(result.thresholdProtocol).toEqual({ kind: "fixed", probability: 0.5 });
    expect(result.thresholdSubset).toBeNull();
    expect(result.threshold).toBe(0);
    // hand at logit 0 is the 2/3 above; other: error 1/1, correct 0/1 -> F1 0.
    expect(result.subsets.hand!.f1).toBeCloseTo(2 / 3, 12);
    expect(result.subsets.other!.f1).toBe(0);
    expect(result.meanF1).toBeCloseTo(1 / 3, 12);
    expect(result.heldOutMeanF1).toBeCloseTo(1 / 3, 12);
  });

  it("turns a fixed probability into the logit it compares scores with", () => {
    // p = 0.6 is the logit ln(1.5) ~ 0.405: A, C right; B (0.5 >= 0.405) right; D (0.2) flagged, wrong.
    const result = evaluateProcessBench({ hand: items }, { kind: "fixed", probability: 0.6 });
    expect(result.threshold).toBeCloseTo(Math.log(1.5), 12);
    expect(result.subsets.hand!.errorAccuracy).toBe(1);
    expect(result.subsets.hand!.correctAccuracy).toBe(0.5);
    expect(result.subsets.hand!.threshold).toBeCloseTo(Math.log(1.5), 12);
    expect(() => evaluateProcessBench({ hand: items }, { kind: "fixed", probability: 1 })).toThrow(
      /strictly between 0 and 1, got 1/,
    );
    expect(() =>
      evaluateProcessBench({ hand: [{ label: 5, stepScores: [1] }] }, { kind: "fixed", probability: 0.5 }),
    ).toThrow(/hand: item 0: label 5/);
  });

  it("tunes on a subset when asked, by object or by name", () => {
    const byObject = evaluateProcessBench({ hand: items }, { kind: "tune", subset: "hand" });
    expect(byObject.threshold).toBe(-0.3);
    expect(byObject.thresholdSubset).toBe("hand");
    expect(byObject.thresholdProtocol).toEqual({ kind: "tune", subset: "hand" });
    expect(evaluateProcessBench({ hand: items }, "hand")).toEqual(byObject);
    expect(byObject.meanF1).toBe(1);
    expect(Number.isNaN(byObject.heldOutMeanF1)).toBe(true);
  });

  it("refuses labels past the last step and NaN scores", () => {
    expect(() => processBenchMetrics([{ label: 3, stepScores: [1, 2] }], 0, "pb.json")).toThrow(
      /pb\.json: item 0: label 3/,
    );
    expect(() => processBenchMetrics([{ label: -1, stepScores: [Number.NaN] }], 0)).toThrow(
      /step 0: score is NaN/,
    );
  });
});

/** Standard normal draws from a seeded uniform source (Box-Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

describe.skipIf(!sharedAvailable)(
  `ProcessBench on the real files with synthetic scores${sharedSkipReason}`,
  () => {
    const subsets = ["gsm8k", "math", "olympiadbench", "omnimath"];
    const readAll = async (path: string): Promise<{ label: number; steps: string[] }[]> => {
      const records: { label: number; steps: string[] }[] = [];
      for await (const trajectory of readProcessBench(path)) {
        records.push({ label: firstWrongStep(trajectory.hardLabels), steps: trajectory.steps });
      }
      return records;
    };
    const load = async (): Promise<Record<string, { label: number; steps: string[] }[]>> =>
      Object.fromEntries(
        await Promise.all(
          subsets.map(async (name) => [
            name,
            await readAll(sharedPath("data", "processbench", `${name}.json`)),
          ]),
        ),
      );

    it("firstWrongStep gives back each file's label from @pqm/data's step labels", async () => {
      const path = sharedPath("data", "processbench", "gsm8k.json");
      const raw = JSON.parse(await readFile(path, "utf8")) as { label: number }[];
      const read: LabeledTrajectory[] = [];
      for await (const trajectory of readProcessBench(path)) read.push(trajectory);
      expect(read.map((trajectory) => firstWrongStep(trajectory.hardLabels))).toEqual(
        raw.map((record) => record.label),
      );
      expect(raw.some((record) => record.label === -1)).toBe(true);
      expect(raw.some((record) => record.label > 0)).toBe(true);
    });

    it("scores built from the labels plus noise give a high F1 on held-out subsets", async () => {
      const data = await load();
      const random = createRandom(11);
      // A step before the first error scores +2, from it on -2, plus N(0, 0.5^2) noise.
      const scored = Object.fromEntries(
        Object.entries(data).map(([name, records]) => [
          name,
          records.map((record) => ({
            label: record.label,
            stepScores: record.steps.map(
              (_, s) => (record.label === -1 || s < record.label ? 2 : -2) + 0.5 * normal(random),
            ),
          })),
        ]),
      );
      expect(scored.gsm8k).toHaveLength(400);
      const result = evaluateProcessBench(scored, "gsm8k");
      // A correct step falls under 0 with probability P(N < -4) ~ 3e-5: nearly every prediction is exact.
      for (const name of subsets) expect(result.subsets[name]!.f1).toBeGreaterThan(0.95);
      expect(result.threshold).toBeGreaterThan(-2);
      expect(result.threshold).toBeLessThan(2);
    });

    it("random scores stay near chance", async () => {
      const data = await load();
      const random = createRandom(12);
      const scored = Object.fromEntries(
        Object.entries(data).map(([name, records]) => [
          name,
          records.map((record) => ({
            label: record.label,
            stepScores: record.steps.map(() => normal(random)),
          })),
        ]),
      );
      const result = evaluateProcessBench(scored, "gsm8k");
      // With scores unrelated to the labels, finding the exact first wrong step among several needs luck,
      // and flagging none of a solution's steps is at odds with finding errors: F1 stays far from 1.
      for (const name of ["math", "olympiadbench", "omnimath"])
        expect(result.subsets[name]!.f1).toBeLessThan(0.45);
    });
  },
);
