import type { Question } from "@pqm/core/reference";
import { describe, expect, it } from "vitest";
import { writeCandidateFixture } from "../candidates/candidate-file.test-helper.js";
import { toyChecker } from "../report/report-fixture.test-helper.js";
import type { ScoresFile } from "../scores/scores-file.js";
import { evaluateCandidates } from "./evaluate-candidates.js";

const questions: Question[] = [
  { id: "a", text: "One plus one?", answer: "2", domain: "math" },
  { id: "b", text: "Two plus two?", answer: "4", domain: "math" },
];
const candidates = await writeCandidateFixture(
  [
    {
      question: "One  plus one?\n",
      responses: [{ text: "Step 1: answer: 3" }, { text: "Step 1: x Step 2: answer: 2" }],
    },
    {
      question: "Two plus two?",
      responses: [{ text: "Step 1: answer: 4" }, { text: "Step 1: answer: 5" }],
    },
  ],
  "cands.json",
);
const scores = (
  values: number[][][],
  sha = candidates.sha256,
  excluded: ScoresFile["excluded"] = [],
): ScoresFile => ({
  file: "scores.jsonl",
  header: { format: "pqm-scores/1", candidates_sha256: sha, scorer: "toy" },
  scores: values,
  excluded,
});

describe("evaluateCandidates", () => {
  it("checks answers once and runs best-of-n (reference protocol, hand values)", async () => {
    // Q a: c0 [0] wrong, c1 min(1, 2) = 1 right -> n=2 picks c1. Q b: c0 [-1] right, c1 [3] wrong -> picks c1.
    const result = await evaluateCandidates(
      {
        questions,
        candidates,
        scores: scores([
          [[0], [1, 2]],
          [[-1], [3]],
        ]),
        checker: toyChecker,
      },
      { ns: [1, 2], protocol: "reference", bootstrapResamples: 20 },
    );
    expect(result.verdicts.questions.map((row) => row.map((verdict) => verdict.correct))).toEqual([
      [false, true],
      [true, false],
    ]);
    // n=1: (0 + 1) / 2; n=2: (1 + 0) / 2.
    expect(result.bestOfN.methods.bon.map((point) => point.mean)).toEqual([0.5, 0.5]);
    expect(result.inputs.scorer).toBe("toy");
  });

  it("refuses candidates for other questions, naming the file and record", async () => {
    const shuffled: Question[] = [questions[1]!, questions[0]!];
    await expect(
      evaluateCandidates({
        questions: shuffled,
        candidates,
        scores: scores([
          [[0], [1, 2]],
          [[-1], [3]],
        ]),
        checker: toyChecker,
      }),
    ).rejects.toThrow(/cands\.json:1: field 'question': does not match test-set question 0 \(id b\)/);
    await expect(
      evaluateCandidates({
        questions: [questions[0]!],
        candidates,
        scores: scores([[[0], [1, 2]]]),
        checker: toyChecker,
      }),
    ).rejects.toThrow(/cands\.json: has 2 questions but the test set has 1/);
  });

  it("refuses scores made for another candidate file", async () => {
    await expect(
      evaluateCandidates({
        questions,
        candidates,
        scores: scores(
          [
            [[0], [1, 2]],
            [[-1], [3]],
          ],
          "0".repeat(64),
        ),
        checker: toyChecker,
      }),
    ).rejects.toThrow(/scores\.jsonl:1: field 'candidates_sha256'.*not \S*cands\.json/);
  });

  it("leaves questions with NaN scores out when the reader excluded them, and says so", async () => {
    const result = await evaluateCandidates(
      {
        questions,
        candidates,
        scores: scores(
          [
            [[0], [1, 2]],
            [[Number.NaN], [3]],
          ],
          candidates.sha256,
          [{ question: 1, candidate: 0, step: 0, line: 3 }],
        ),
        checker: toyChecker,
      },
      { ns: [2], protocol: "reference", bootstrapResamples: 20 },
    );
    expect(result.evaluatedQuestions).toEqual([0]);
    expect(result.bestOfN.methods.bon[0]!.mean).toBe(1);
    expect(result.inputs.excludedForNaN).toHaveLength(1);
  });
});
