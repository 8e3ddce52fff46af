import type { Scorer, Trajectory } from "@pqm/core/reference";
import { describe, expect, it } from "vitest";
import type { ArithEvaluationPoint } from "./arith-evaluation.js";
import { accuracyDifference, evaluateArithSearch, oracleScorer, searchLabel } from "./arith-evaluation.js";
import { meanWithInterval } from "./mean-interval.js";

/** A scorer that knows nothing: every step scores 0, so every path ties and the first one wins. */
class FlatScorer implements Scorer {
  readonly name = "flat";
  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    return trajectories.map((t) => t.steps.map(() => 0));
  }
}

describe("evaluateArithSearch", () => {
  it("runs every search with every scorer over the seeds, with t-intervals, and the oracle sets the ceiling", async () => {
    const evaluation = await evaluateArithSearch({
      questions: 12,
      seeds: [0, 1, 2],
      searches: [
        { method: "bon", n: 1 },
        { method: "bon", n: 8 },
        { method: "beam", n: 8, beamWidth: 4 },
      ],
      scorers: [oracleScorer, { name: "flat", make: () => new FlatScorer() }],
      concurrency: 4,
    });
    expect(evaluation.points.map((p) => `${p.scorer} ${p.label}`)).toEqual([
      "oracle bon N=1",
      "oracle bon N=8",
      "oracle beam N=8 m=4",
      "flat bon N=1",
      "flat bon N=8",
      "flat beam N=8 m=4",
    ]);
    const point = (scorer: string, label: string) =>
      evaluation.points.find((p) => p.scorer === scorer && p.label === label)!;
    for (const p of evaluation.points) {
      expect(p.runs.map((run) => run.seed)).toEqual([0, 1, 2]);
      expect(p.accuracy).toEqual(
        meanWithInterval(
          p.runs.map((run) => run.accuracy),
          { min: 0, max: 1 },
        ),
      );
      expect(p.accuracy.low).toBeGreaterThanOrEqual(0);
      expect(p.accuracy.high).toBeLessThanOrEqual(1);
    }
    // Same seed, same policy samples: best-of-1 is the same run whatever the scorer.
    const same = (scorer: string) =>
      point(scorer, "bon N=1").runs.map((run) => [
        run.accuracy,
        run.meanGeneratedTokens,
        run.chosenWithMistake,
      ]);
    expect(same("flat")).toEqual(same("oracle"));
    // The oracle is a perfect verifier: it never does worse than a scorer that knows nothing.
    for (const label of ["bon N=8", "beam N=8 m=4"]) {
      expect(accuracyDifference(point("oracle", label), point("flat", label)).mean).toBeGreaterThanOrEqual(0);
    }
    expect(point("oracle", "bon N=8").accuracy.mean).toBeGreaterThan(
      point("oracle", "bon N=1").accuracy.mean,
    );
    // Beam N=8 samples as many steps as 8 whole solutions on this fixed-length environment.
    expect(point("oracle", "beam N=8 m=4").meanGeneratedTokens.mean).toBeCloseTo(
      point("oracle", "bon N=8").meanGeneratedTokens.mean,
      6,
    );
  });

  it("labels searches and pairs differences by seed", () => {
    expect(searchLabel({ method: "beam", n: 16, beamWidth: 4, lookahead: 1 })).toBe("beam N=16 m=4 k=1");
    expect(searchLabel({ method: "weighted-bon", n: 64 })).toBe("weighted-bon N=64");
    const at = (values: number[]): ArithEvaluationPoint =>
      ({ runs: values.map((accuracy, seed) => ({ seed, accuracy })) }) as unknown as ArithEvaluationPoint;
    const difference = accuracyDifference(at([0.5, 0.6, 0.7]), at([0.4, 0.6, 0.5]));
    expect(difference.mean).toBeCloseTo(0.1, 12);
    // t(0.975, 2) = 4.303; the sd of (0.1, 0, 0.2) is 0.1.
    expect(difference.high - difference.mean).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 9);
  });
});
