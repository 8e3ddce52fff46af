import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { loadQuestions, writeCandidates, writeJsonl } from "@pqm/data";
import {
  buildQuestionDetails,
  createEvaluationResults,
  evaluateCandidates,
  loadDataAnswerChecker,
  readCandidateFile,
  readScoresFile,
  sha256OfFile,
  writeEvaluationReport,
  writeScoresFile,
} from "@pqm/eval";
import type { TestCandidates } from "./demo-evaluation.js";
import type { DemoRecipe } from "./recipe.js";

/** A per-model best-of-n report: its title and folder, relative to the results folder. */
export interface ModelReportLink {
  title: string;
  folder: string;
}

/**
 * Writes the held-out questions, their candidates (with exact labels and Q-values) and both models'
 * scores as files (`inputs/`), then runs @pqm/eval's file-based best-of-n on them and writes a full
 * report per model (`report-pqm/`, `report-bce/`: per-question views), as `pqm eval bon` would.
 */
export async function writeModelReports(
  folder: string,
  run: { seed: number; test: TestCandidates; scores: { pqm: number[][][]; bce: number[][][] } },
  recipe: DemoRecipe,
  signal?: AbortSignal,
): Promise<ModelReportLink[]> {
  const inputs = join(folder, "inputs");
  await mkdir(inputs, { recursive: true });
  const testFile = join(inputs, "test.jsonl");
  const candidateFile = join(inputs, "candidates.json");
  const cacheDir = join(inputs, "cache");
  await writeJsonl(
    testFile,
    run.test.questions.map((question) => ({ question: question.text, answer: question.answer })),
  );
  await writeCandidates(
    candidateFile,
    run.test.solutions.map((solutions, index) => ({
      index,
      question: run.test.questions[index]?.text ?? "",
      responses: solutions.map((solution) => ({
        text: solution.text,
        modelName: "arith-policy",
        steps: solution.steps,
        annotations: {
          steps: solution.steps,
          processLabels: solution.processLabels,
          qValues: solution.qValues,
        },
      })),
    })),
  );
  const candidatesSha256 = await sha256OfFile(candidateFile);
  const questions = await loadQuestions(testFile, { domain: "gsm" });
  const candidates = await readCandidateFile(candidateFile, { testSet: { questions, file: testFile } });
  const reports: ModelReportLink[] = [];
  for (const [key, title] of [
    ["pqm", "PQM model: best-of-n report"],
    ["bce", "BCE model: best-of-n report"],
  ] as const) {
    signal?.throwIfAborted();
    const scoresFile = join(inputs, `scores-${key}.jsonl`);
    await writeScoresFile(
      scoresFile,
      { candidatesSha256, scorer: `demo ${key} (seed ${run.seed})` },
      run.scores[key],
    );
    const scores = await readScoresFile(scoresFile, { candidates });
    const evaluation = await evaluateCandidates(
      {
        questions,
        candidates,
        scores,
        checker: await loadDataAnswerChecker(),
        verdictCacheFile: join(cacheDir, `verdicts-${candidates.sha256.slice(0, 16)}.json`),
      },
      {
        ns: recipe.ns,
        aggregation: "min",
        protocol: "subsets",
        subsets: recipe.subsets,
        seed: run.seed,
        bootstrapResamples: recipe.bootstrapResamples,
      },
    );
    const results = createEvaluationResults({
      title: `Best-of-n on ${testFile}`,
      config: {
        test: testFile,
        testFile,
        candidates: candidateFile,
        scores: scoresFile,
        model: null,
        ns: recipe.ns,
        aggregation: "min",
        protocol: "subsets",
        subsets: recipe.subsets,
        seed: run.seed,
        bootstrapResamples: recipe.bootstrapResamples,
        stepSplit: "auto",
      },
      candidates: evaluation,
    });
    const details = buildQuestionDetails(evaluation, questions, candidates, scores);
    await writeEvaluationReport(join(folder, `report-${key}`), results, details);
    reports.push({ title, folder: `report-${key}` });
  }
  return reports;
}
