import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnswerChecker, Question } from "@pqm/core/reference";
import { evaluateCandidates } from "../best-of-n/evaluate-candidates.js";
import { readCandidateFile } from "../candidates/candidate-file.js";
import { readScoresFile, writeScoresFile } from "../scores/scores-file.js";
import { createRandom } from "../statistics/random.js";
import { type EvaluationReportOptions, writeEvaluationReport } from "./evaluation-report.js";
import { buildQuestionDetails } from "./question-details.js";
import { createEvaluationResults } from "./results.js";

/** The toy checker of the report tests: the token after "answer:", exact string match. */
export const toyChecker: AnswerChecker = {
  name: "toy",
  extractAnswer: (text) => /answer:\s*(\S+)/.exec(text)?.[1] ?? null,
  isEquivalent: (prediction, gold) => prediction !== null && prediction === gold,
};

/**
 * Writes a small real evaluation to a temporary folder: 6 questions x 8 candidates with seeded
 * answers and scores (a correct candidate's steps score higher on average), through the real file
 * formats, then the report. Returns the folder and what was written.
 */
export async function writeFixtureReport(
  extraConfig: Record<string, string> = {},
  reportOptions: EvaluationReportOptions = {},
) {
  const dir = await mkdtemp(join(tmpdir(), "pqm-eval-report-"));
  const random = createRandom(5);
  const questions: Question[] = Array.from({ length: 6 }, (_, q) => ({
    id: `q${q}`,
    text: `What is ${q} + ${q + 1}? <b>bold</b> & "quoted"`,
    answer: String(2 * q + 1),
    domain: "math",
  }));
  const candidateRecords = questions.map((question, q) => ({
    question: question.text,
    responses: Array.from({ length: 8 }, (_, c) => {
      const right = random() < 0.5;
      const answer = right ? question.answer! : String(2 * q + 2 + (c % 2));
      return {
        text: `Step 1: Add ${q} and ${q + 1}. Step 2: Check the sum. Step 3: The answer: ${answer}`,
        model_name: "toy-policy",
      };
    }),
  }));
  const candidatesPath = join(dir, "candidates.json");
  await writeFile(candidatesPath, JSON.stringify(candidateRecords));
  const candidates = await readCandidateFile(candidatesPath);
  const scoreValues = candidates.questions.map((question) =>
    question.responses.map((response) => {
      const right = response.text.endsWith(
        `answer: ${questions[candidates.questions.indexOf(question)]!.answer}`,
      );
      return response.steps.map(() => (right ? 1 : -1) + 1.5 * (random() - 0.5));
    }),
  );
  const scoresPath = join(dir, "scores.jsonl");
  await writeScoresFile(
    scoresPath,
    { candidatesSha256: candidates.sha256, scorer: "toy-scorer" },
    scoreValues,
  );
  const scores = await readScoresFile(scoresPath, { candidates });
  const config = { ns: [1, 2, 4, 8], protocol: "subsets", subsets: 20, seed: 3, ...extraConfig };
  const evaluation = await evaluateCandidates(
    { questions, candidates, scores, checker: toyChecker },
    { ns: [1, 2, 4, 8], protocol: "subsets", subsets: 20, seed: 3, bootstrapResamples: 200 },
  );
  const results = createEvaluationResults({
    title: "Fixture evaluation",
    config,
    candidates: evaluation,
    processBench: {
      thresholdProtocol: { kind: "tune", subset: "gsm8k" },
      thresholdSubset: "gsm8k",
      threshold: 0.25,
      subsets: {
        gsm8k: {
          errorAccuracy: 0.5,
          correctAccuracy: 0.75,
          f1: 0.6,
          errorCount: 4,
          correctCount: 4,
          threshold: 0.25,
        },
      },
      meanF1: 0.6,
      heldOutMeanF1: Number.NaN,
    },
  });
  const details = buildQuestionDetails(evaluation, questions, candidates, scores, 8);
  const reportDir = join(dir, "report");
  const files = await writeEvaluationReport(reportDir, results, details, reportOptions);
  return { dir, reportDir, files, results, details, evaluation, questions };
}
