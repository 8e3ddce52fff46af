import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArithEnvironment, loadCandidates } from "@pqm/data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArithStepPolicy } from "./arith-step-policy.js";
import { arithTreeTruth } from "./arith-tree-truth.js";
import type { QuestionResult, RunSearchOptions } from "./run-search.js";
import { runSearch } from "./run-search.js";
import { ExactQScorer } from "./scorers.js";
import { searchCandidates, writeSearchCandidates } from "./search-candidates.js";

const environment = new ArithEnvironment({ seed: 8 });
const questions = environment.testQuestions(12);
let folder = "";

const options = (output?: string): RunSearchOptions => ({
  questions,
  policy: new ArithStepPolicy(environment),
  scorer: new ExactQScorer(environment),
  spec: { method: "beam", n: 8, beamWidth: 4, seed: 1 },
  concurrency: 3,
  annotate: (question, outcome) => {
    const truth = arithTreeTruth(environment, question, outcome.nodes, outcome.chosen);
    return { exactQ: truth.exactQ, exactLabel: truth.exactLabel, firstMistake: truth.firstMistake };
  },
  ...(output === undefined ? {} : { output }),
});
const comparable = (results: QuestionResult[]) =>
  results.map((result) => ({
    key: result.key,
    answer: result.answer,
    correct: result.correct,
    candidates: result.candidates,
    tokens: result.compute.generatedTokens,
    nodes: result.nodes.map(({ generatedAt: _g, scoredAt: _s, ...rest }) => rest),
  }));

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-search-run-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("runSearch", () => {
  it("resumes after an interruption and a torn last line, ending with the same results as one whole run", async () => {
    const whole = await runSearch(options(join(folder, "whole.jsonl")));
    const file = join(folder, "interrupted.jsonl");
    const controller = new AbortController();
    const interrupted = runSearch({
      ...options(file),
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.done === 5) controller.abort(new Error("stopped by the test"));
      },
    });
    const error = await interrupted.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    // An AbortError naming the reason and what it kept; the questions in flight were abandoned.
    expect(error).toMatchObject({ name: "AbortError", saved: { output: file, total: questions.length } });
    const saved = (error as { saved: { finished: number } }).saved;
    expect((error as Error).message).toBe(
      `stopped by the test; kept ${saved.finished} of ${questions.length} questions in ${file}`,
    );
    const written = (await readFile(file, "utf8")).trim().split("\n");
    expect(written).toHaveLength(saved.finished);
    expect(written.length).toBeGreaterThanOrEqual(5);
    expect(written.length).toBeLessThan(questions.length);
    // A kill in the middle of a write leaves half a line.
    await appendFile(file, '{"index": 11, "questionId": "arith-te');
    const seen: number[] = [];
    const resumed = await runSearch({ ...options(file), onProgress: (progress) => seen.push(progress.done) });
    expect(resumed.summary.resumed).toBe(written.length);
    expect(seen[0]).toBe(written.length);
    expect(comparable(resumed.results)).toEqual(comparable(whole.results));
    expect(resumed.summary.accuracy).toBe(whole.summary.accuracy);
    expect(resumed.summary.generatedTokens).toBe(whole.summary.generatedTokens);
    // Nothing is searched twice: one row per question in the file.
    const rows = (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as QuestionResult);
    expect(rows.map((row) => row.index).sort((a, b) => a - b)).toEqual(questions.map((_, i) => i));
    // A finished run is only read.
    const again = await runSearch(options(file));
    expect(again.summary.resumed).toBe(questions.length);
  });

  it("refuses a results file of another run, naming the file, line and field", async () => {
    const file = join(folder, "other.jsonl");
    await runSearch({ ...options(file), questions: questions.slice(0, 2) });
    await expect(runSearch({ ...options(file), spec: { method: "bon", n: 8, seed: 1 } })).rejects.toThrow(
      new RegExp(`${file.replace(/[/.]/g, "\\$&")}:1: field 'run'`),
    );
  });

  it("sums the compute of its questions and grades answers against the gold ones", async () => {
    const { results, summary } = await runSearch(options());
    expect(summary.questions).toBe(questions.length);
    expect(summary.correct).toBe(
      results.filter((result) => result.answer === questions[result.index]!.answer).length,
    );
    expect(summary.accuracy).toBe(summary.correct / questions.length);
    expect(summary.generatedTokens).toBe(
      results.reduce((sum, result) => sum + result.compute.generatedTokens, 0),
    );
    expect(summary.compute.prmCalls).toBe(results.reduce((sum, result) => sum + result.compute.prmCalls, 0));
  });

  it("exports the finished paths as a candidate file with their scores and exact truths", async () => {
    const { results } = await runSearch(options());
    const candidates = searchCandidates(results, questions, "arith-step-policy");
    const path = join(folder, "candidates.json");
    await writeSearchCandidates(path, candidates);
    const { sets } = await loadCandidates(path, { testSet: { questions, file: "test" } });
    expect(sets).toHaveLength(questions.length);
    sets.forEach((set, q) => {
      const result = results[q]!;
      expect(set.responses).toHaveLength(result.candidates.length);
      set.responses.forEach((response, c) => {
        expect(response.steps).toHaveLength(candidates.scores[q]![c]!.length);
        // The exact Q-values written are the environment's for those steps.
        expect(response.annotations?.qValues).toEqual(
          environment.exactQValues(questions[q]!, response.steps),
        );
        expect(response.annotations?.processLabels).toEqual(
          environment.exactProcessLabels(questions[q]!, response.steps),
        );
      });
    });
  });
});
