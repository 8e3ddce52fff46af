import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Question } from "@pqm/core/reference";
import { describe, expect, it } from "vitest";
import { evaluateBestOfN, OUTCOME_NOT_APPLICABLE } from "../best-of-n/best-of-n.js";
import { evaluateCandidates } from "../best-of-n/evaluate-candidates.js";
import { writeCandidateFixture } from "../candidates/candidate-file.test-helper.js";
import { writeEvaluationReport } from "../report/evaluation-report.js";
import { buildQuestionDetails } from "../report/question-details.js";
import { toyChecker } from "../report/report-fixture.test-helper.js";
import { createEvaluationResults } from "../report/results.js";
import { readScoresFile, writeOutcomeScoresFile, writeScoresFile } from "./scores-file.js";

const questions: Question[] = [
  { id: "a", text: "One plus one?", answer: "2", domain: "math" },
  { id: "b", text: "Two plus two?", answer: "4", domain: "math" },
];
// Several steps per candidate: an outcome file still holds one score each.
const candidates = await writeCandidateFixture([
  {
    question: "One plus one?",
    responses: [
      { text: "Step 1: 1 + 1 = 3. Step 2: answer: 3" },
      { text: "Step 1: 1 + 1 = 2. Step 2: check. Step 3: answer: 2" },
    ],
  },
  {
    question: "Two plus two?",
    responses: [{ text: "Step 1: 2 + 2 = 4. Step 2: answer: 4" }, { text: "Step 1: answer: 5" }],
  },
]);
// Question a: c0 wrong, c1 right; question b: c0 right, c1 wrong. The outcome scores rank the right one first.
const outcomeScores = [
  [0.1, 2],
  [1, -1],
];

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "pqm-eval-outcome-"));
}

const header = { candidatesSha256: candidates.sha256, scorer: "toy-orm" };

describe("outcome-level scores files", () => {
  it("round-trips: the header says level outcome, each candidate holds one score", async () => {
    const path = join(await tempDir(), "o.jsonl");
    await writeOutcomeScoresFile(path, header, outcomeScores);
    const lines = (await readFile(path, "utf8")).trim().split("\n");
    expect(JSON.parse(lines[0]!).level).toBe("outcome");
    expect(JSON.parse(lines[1]!)).toEqual({ index: 0, scores: [0.1, 2] });
    const read = await readScoresFile(path, { candidates });
    expect(read.level).toBe("outcome");
    expect(read.header.level).toBe("outcome");
    expect(read.scores).toEqual([
      [[0.1], [2]],
      [[1], [-1]],
    ]);
  });

  it("a header without level is step level, and such a file still needs one score per step", async () => {
    const path = join(await tempDir(), "s.jsonl");
    // One score per candidate in a step-level file: the shapes do not match the candidates' steps.
    await writeScoresFile(path, header, [
      [[0.1], [2]],
      [[1], [-1]],
    ]);
    const read = await readScoresFile(path);
    expect(read.level).toBe("step");
    expect(read.header.level).toBeUndefined();
    await expect(readScoresFile(path, { candidates })).rejects.toThrow(
      /s\.jsonl:2: field 'scores\.0'.*question 0, candidate 0: 1 step scores but \S*cands\.json has 2 steps/,
    );
  });

  it("refuses an outcome file with more or fewer scores than candidates (file, line, field)", async () => {
    const dir = await tempDir();
    const fewer = join(dir, "fewer.jsonl");
    await writeOutcomeScoresFile(fewer, header, [[0.1, 2], [1]]);
    await expect(readScoresFile(fewer, { candidates })).rejects.toThrow(
      /fewer\.jsonl:3: field 'scores'.*question 1: 1 candidates scored but \S*cands\.json has 2/,
    );
    const more = join(dir, "more.jsonl");
    await writeOutcomeScoresFile(more, header, [
      [0.1, 2, 3],
      [1, -1],
    ]);
    await expect(readScoresFile(more, { candidates })).rejects.toThrow(
      /more\.jsonl:2: field 'scores'.*question 0: 3 candidates scored but \S*cands\.json has 2/,
    );
  });

  it("refuses lists in an outcome file, numbers in a step file, and an unknown level", async () => {
    const dir = await tempDir();
    const head = (level?: string) =>
      JSON.stringify({
        format: "pqm-scores/1",
        candidates_sha256: candidates.sha256,
        scorer: "x",
        ...(level ? { level } : {}),
      });
    const lists = join(dir, "lists.jsonl");
    await writeFile(lists, `${head("outcome")}\n{"index": 0, "scores": [[0.1, 0.2], 2]}\n`);
    await expect(readScoresFile(lists)).rejects.toThrow(
      /lists\.jsonl:2: field 'scores\.0'.*expected a number.*got a list/,
    );
    const numbers = join(dir, "numbers.jsonl");
    await writeFile(numbers, `${head()}\n{"index": 0, "scores": [0.1, 2]}\n`);
    await expect(readScoresFile(numbers)).rejects.toThrow(
      /numbers\.jsonl:2: field 'scores\.0'.*got a number.*"level": "outcome"/,
    );
    const unknown = join(dir, "unknown.jsonl");
    await writeFile(unknown, `${head("solution")}\n`);
    await expect(readScoresFile(unknown)).rejects.toThrow(
      /unknown\.jsonl:1: field 'level'.*"step" or "outcome", got "solution"/,
    );
    const nan = join(dir, "nan.jsonl");
    await writeFile(nan, `${head("outcome")}\n{"index": 0, "scores": [NaN, 2]}\n`);
    await expect(readScoresFile(nan)).rejects.toThrow(
      /nan\.jsonl:2: field 'scores\.0'.*candidate 0: score is NaN/,
    );
    expect((await readScoresFile(nan, { nan: "exclude" })).excluded).toHaveLength(1);
  });
});

describe("best-of-n on outcome scores", () => {
  it("picks the best outcome score and weighs the vote by it; orm-last and the sweep are n/a", () => {
    const result = evaluateBestOfN(
      [
        { outcomeScores: [0.1, 2], correct: [false, true], answerGroups: [0, 1] },
        { outcomeScores: [1, -1], correct: [true, false], answerGroups: [0, 1] },
      ],
      { scoreLevel: "outcome", ns: [1, 2], protocol: "reference", bootstrapResamples: 20 },
    );
    const means = (points: { mean: number }[] | null) => points?.map((point) => point.mean);
    expect(result.scoreLevel).toBe("outcome");
    // n = 1: the first candidate (wrong, right); n = 2: the higher score, right for both questions.
    expect(means(result.methods.bon)).toEqual([0.5, 1]);
    expect(means(result.methods["weighted-vote"])).toEqual([0.5, 1]);
    // Majority: a tie of two one-member groups goes to the earliest candidate.
    expect(means(result.methods.majority)).toEqual([0.5, 0.5]);
    expect(means(result.methods.pass)).toEqual([0.5, 1]);
    expect(result.methods["orm-last"]).toBeNull();
    expect(result.sweep).toEqual({});
    expect(result.notApplicable).toEqual({
      "orm-last": OUTCOME_NOT_APPLICABLE,
      sweep: OUTCOME_NOT_APPLICABLE,
    });
    expect(result.referenceChoices.byMethod.bon).toEqual([1, 0]);
    expect(result.referenceChoices.byMethod["orm-last"]).toEqual([null, null]);
  });

  it("step level is unchanged: no scoreLevel or notApplicable in the result", () => {
    const result = evaluateBestOfN(
      [{ stepScores: [[0.1], [2, 3]], correct: [false, true], answerGroups: [0, 1] }],
      { ns: [2], protocol: "reference", bootstrapResamples: 20 },
    );
    expect(result).not.toHaveProperty("scoreLevel");
    expect(result).not.toHaveProperty("notApplicable");
    expect(result.methods["orm-last"]).not.toBeNull();
  });

  it("refuses a question without the scores its level needs", () => {
    expect(() =>
      evaluateBestOfN([{ stepScores: [[1]], correct: [true], answerGroups: [0] }], {
        scoreLevel: "outcome",
        ns: [1],
      }),
    ).toThrow(/question 0 \(id 0\): no outcomeScores/);
  });

  it("runs from files to a report: n/a rows in report.md, null with a reason in results.json", async () => {
    const dir = await tempDir();
    const path = join(dir, "o.jsonl");
    await writeOutcomeScoresFile(path, header, outcomeScores);
    const scores = await readScoresFile(path, { candidates });
    const evaluation = await evaluateCandidates(
      { questions, candidates, scores, checker: toyChecker },
      { ns: [1, 2], protocol: "reference", bootstrapResamples: 20 },
    );
    expect(evaluation.inputs.scoreLevel).toBe("outcome");
    expect(evaluation.bestOfN.methods.bon.map((point) => point.mean)).toEqual([0.5, 1]);
    const results = createEvaluationResults({ title: "Outcome", candidates: evaluation });
    const details = buildQuestionDetails(evaluation, questions, candidates, scores);
    expect(details[0]!.candidates[1]!.solutionScore).toBe(2);
    expect(details[0]!.candidates[1]!.stepScores).toEqual([]);
    const files = await writeEvaluationReport(join(dir, "report"), results, details, { png: false });
    const written = JSON.parse(await readFile(files.results, "utf8"));
    expect(written.bestOfN.methods["orm-last"]).toBeNull();
    expect(written.bestOfN.notApplicable["orm-last"]).toMatch(/outcome level/);
    const markdown = await readFile(files.markdown, "utf8");
    expect(markdown).toMatch(/\| Best outcome score \| 50\.0 \[[^\]]*\] \| 100\.0 \[[^\]]*\] \|/);
    expect(markdown).toContain("| ORM-style (last step) | n/a | n/a |");
    expect(markdown).toContain("| all | n/a | n/a |");
    expect(existsSync(join(dir, "report", "aggregation-sweep.svg"))).toBe(false);
    expect(existsSync(join(dir, "report", "accuracy-vs-n.svg"))).toBe(true);
  });
});
