import type { Scorer, Trajectory } from "@pqm/core/reference";
import { sigmoid } from "@pqm/core/reference";
import { ArithEnvironment } from "@pqm/data";
import { describe, expect, it } from "vitest";
import { ArithStepPolicy } from "./arith-step-policy.js";
import {
  CachingScorer,
  countTrajectoryWords,
  ExactQScorer,
  MeteredScorer,
  probabilityToLogit,
} from "./scorers.js";
import { searchQuestion } from "./search-methods.js";

const environment = new ArithEnvironment({ seed: 4 });
const questions = environment.testQuestions(6);

/** Scores each step by its length in characters (scaled), and counts what it was asked. */
class LengthScorer implements Scorer {
  readonly name = "length";
  calls = 0;
  trajectories = 0;
  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    this.calls += 1;
    this.trajectories += trajectories.length;
    return trajectories.map((t) => t.steps.map((step) => step.length / 20 - 2));
  }
}

describe("ExactQScorer", () => {
  it("scores every step with the logit of its exact Q-value, 0 and 1 clamped but finite", async () => {
    const [solution] = environment.sampleSolutions(questions[0]!, 1, 3);
    const [scores] = await new ExactQScorer(environment).scoreSteps([
      { question: questions[0]!, steps: solution!.steps },
    ]);
    scores!.forEach((score, t) => {
      expect(Number.isFinite(score)).toBe(true);
      expect(Math.abs(sigmoid(score) - solution!.qValues[t]!)).toBeLessThanOrEqual(1.0001e-9);
    });
    expect(probabilityToLogit(1)).toBeCloseTo(20.72, 2);
    expect(probabilityToLogit(0)).toBeCloseTo(-20.72, 2);
    expect(() => probabilityToLogit(1.5)).toThrow(/not in \[0, 1\]/);
  });
});

describe("MeteredScorer", () => {
  it("counts calls, trajectories and words, and refuses scores of the wrong shape", async () => {
    const metered = new MeteredScorer(new LengthScorer());
    const spend = { calls: 0, trajectories: 0, tokens: 0, ms: 0 };
    const trajectories = [
      { question: questions[0]!, steps: ["a b c", "d"] },
      { question: questions[1]!, steps: ["e"] },
    ];
    await metered.score(trajectories, spend);
    expect(spend).toMatchObject({ calls: 1, trajectories: 2 });
    expect(spend.tokens).toBe(
      countTrajectoryWords(trajectories[0]!) + countTrajectoryWords(trajectories[1]!),
    );
    const broken = new MeteredScorer({ name: "broken", scoreSteps: async () => [[1]] });
    await expect(broken.score(trajectories, spend)).rejects.toThrow(/broken: returned 1 score lists for 2/);
    const infinite = new MeteredScorer({
      name: "inf",
      scoreSteps: async (t) => t.map((x) => x.steps.map(() => Infinity)),
    });
    await expect(infinite.score(trajectories, spend)).rejects.toThrow(
      /inf: trajectory 0, step 0: score Infinity/,
    );
  });
});

describe("CachingScorer", () => {
  it("sends each distinct path to the scorer once and gives the same scores and searches", async () => {
    const policy = new ArithStepPolicy(environment);
    const direct = new LengthScorer();
    const inner = new LengthScorer();
    const cached = new CachingScorer(inner);
    for (const [i, question] of questions.entries()) {
      for (const method of ["beam", "dvts", "bon"] as const) {
        const spec = { method, n: 16, beamWidth: 4, seed: i };
        const a = await searchQuestion(question, policy, new MeteredScorer(direct), spec);
        const b = await searchQuestion(question, policy, new MeteredScorer(cached), spec);
        expect(b.nodes.map((node) => node.score)).toEqual(a.nodes.map((node) => node.score));
        expect(b.answer).toBe(a.answer);
        // The search's accounting counts what it asked for, cached or not.
        expect(b.compute.scoredTrajectories).toBe(a.compute.scoredTrajectories);
      }
    }
    expect(inner.trajectories).toBe(cached.stats.misses);
    expect(cached.stats.size).toBe(cached.stats.misses);
    expect(cached.stats.hits).toBeGreaterThan(0);
    expect(inner.trajectories).toBeLessThan(direct.trajectories);
  });
});
