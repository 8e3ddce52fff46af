import { existsSync } from "node:fs";
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Question } from "@pqm/core";
import { ArithEnvironment, readProcessBench } from "@pqm/data";
import {
  type BestOfNResult,
  evaluateCandidates,
  evaluateProcessBench,
  firstWrongStep,
  loadDataAnswerChecker,
  OUTCOME_NOT_APPLICABLE,
  type ProcessBenchItem,
  readCandidateFile,
  readScoresFile,
  writeOutcomeScoresFile,
  writeScoresFile,
} from "@pqm/eval";
import { formatPercent } from "@pqm/eval/report";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

let folder = "";
let testFile = "";
let candidatesFile = "";
let scoresFile = "";
let questions: Question[] = [];

/** The exact Q-value as a logit, clamped so that Q = 0 or 1 stays finite. */
function logit(q: number): number {
  const p = Math.min(Math.max(q, 1e-4), 1 - 1e-4);
  return Math.log(p / (1 - p));
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-eval-"));
  const environment = new ArithEnvironment({ seed: 3 });
  candidatesFile = join(folder, "candidates.json");
  await environment.writeCandidateFile(candidatesFile, { questions: 6, n: 8 });
  questions = environment.testQuestions(6);
  testFile = join(folder, "test.jsonl");
  await writeFile(
    testFile,
    questions
      .map((question) => JSON.stringify({ question: question.text, answer: question.answer }))
      .join("\n"),
  );
  // Scores from the exact Q-values the environment wrote beside every candidate: a perfect PQM.
  const candidates = await readCandidateFile(candidatesFile);
  scoresFile = join(folder, "scores.jsonl");
  await writeScoresFile(
    scoresFile,
    { candidatesSha256: candidates.sha256, scorer: "exact-q" },
    candidates.questions.map((set) =>
      set.responses.map((response) => response.annotations!.qValues!.map(logit)),
    ),
  );
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** What @pqm/eval computes in-process for the same inputs and options. */
async function expectedBestOfN(options: {
  ns: number[];
  protocol: "reference" | "subsets";
}): Promise<BestOfNResult> {
  const candidates = await readCandidateFile(candidatesFile);
  const testQuestions = questions.map((question) => ({
    ...question,
    id: question.id,
    domain: "gsm" as const,
  }));
  const evaluation = await evaluateCandidates(
    {
      questions: testQuestions,
      candidates,
      scores: await readScoresFile(scoresFile, { candidates }),
      checker: await loadDataAnswerChecker(),
    },
    { ...options, aggregation: "min", subsets: 100, seed: 0, bootstrapResamples: 1000 },
  );
  // Through JSON, as the CLI prints it (NaN becomes null).
  return JSON.parse(JSON.stringify(evaluation.bestOfN)) as BestOfNResult;
}

describe("pqm eval bon", () => {
  it("prints the results object with the accuracies @pqm/eval computes, and writes the report", async () => {
    const out = join(folder, "bon-reference");
    const run = await runCli(
      [
        "eval",
        "bon",
        ...["--test", testFile, "--domain", "gsm", "--candidates", candidatesFile, "--scores", scoresFile],
        ...["--n", "1,4,8", "--protocol", "reference", "--out", out, "--cache-dir", join(folder, "cache")],
        "--json",
      ],
      { cwd: folder },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout) as { format: string; bestOfN: BestOfNResult };
    expect(results.format).toBe("pqm-eval-results/1");
    const expected = await expectedBestOfN({ ns: [1, 4, 8], protocol: "reference" });
    expect(results.bestOfN.methods).toEqual(expected.methods);
    expect(results.bestOfN.ns).toEqual([1, 4, 8]);
    // Exact Q-values pick a correct candidate whenever one exists: best-of-8 equals pass@8.
    const at8 = (method: "bon" | "pass") => results.bestOfN.methods[method][2]!.mean;
    expect(at8("bon")).toBe(at8("pass"));
    for (const name of [
      "results.json",
      "report.md",
      "index.html",
      "accuracy-vs-n.svg",
      "accuracy-vs-n.png",
    ]) {
      expect(existsSync(join(out, name)), name).toBe(true);
    }
    expect(JSON.parse(await readFile(join(out, "results.json"), "utf8")).bestOfN.methods).toEqual(
      expected.methods,
    );
  });

  it("prints a table of accuracy per method per n (subsets protocol, default n up to the candidates)", async () => {
    const run = await runCli(
      [
        "eval",
        "bon",
        ...["--test", testFile, "--domain", "gsm", "--candidates", candidatesFile, "--scores", scoresFile],
        ...["--out", join(folder, "bon-subsets"), "--cache-dir", join(folder, "cache"), "--no-progress"],
      ],
      { cwd: folder },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const expected = await expectedBestOfN({ ns: [1, 8], protocol: "subsets" });
    const lines = run.stdout.split("\n");
    expect(lines.find((line) => line.startsWith("method"))).toMatch(/^method\s+n=1\s+n=8$/);
    for (const method of ["bon", "majority", "pass"] as const) {
      const row = lines.find((line) => line.startsWith(`${method} `));
      expect(row?.trim().split(/\s+/).slice(1), method).toEqual(
        expected.methods[method].map((point) => formatPercent(point.mean)),
      );
    }
  });

  it("refuses a scores file made for other candidate bytes, naming the scores file, with exit code 1", async () => {
    const changed = join(folder, "candidates-changed.json");
    await copyFile(candidatesFile, changed);
    await appendFile(changed, "\n");
    const run = await runCli([
      "eval",
      "bon",
      ...["--test", testFile, "--domain", "gsm", "--candidates", changed, "--scores", scoresFile],
      ...["--out", join(folder, "refused"), "--cache-dir", join(folder, "cache")],
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`${scoresFile}:1: field 'candidates_sha256'`);
    expect(run.stderr).toContain(changed);
    expect(existsSync(join(folder, "refused"))).toBe(false);
  });

  it("refuses a bad --n with a usage exit code", async () => {
    const run = await runCli([
      "eval",
      "bon",
      ...["--test", testFile, "--candidates", candidatesFile, "--scores", scoresFile, "--n", "1,0,8"],
    ]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/'0' is not a positive integer/);
  });

  it("refuses an n above the candidate count with exit code 1, naming the candidate file", async () => {
    const run = await runCli(
      [
        "eval",
        "bon",
        ...["--test", testFile, "--domain", "gsm", "--candidates", candidatesFile, "--scores", scoresFile],
        ...["--n", "16", "--out", join(folder, "too-many"), "--cache-dir", join(folder, "cache")],
      ],
      { cwd: folder },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/candidates\.json.*fewer than n = 16/);
  });

  it("--model and pqm score refuse a missing checkpoint folder and a folder that is not a checkpoint", async () => {
    const bon = await runCli([
      "eval",
      "bon",
      ...["--test", testFile, "--candidates", candidatesFile, "--model", join(folder, "checkpoint")],
      ...["--cache-dir", join(folder, "cache"), "--out", join(folder, "model")],
    ]);
    expect(bon.exitCode).toBe(1);
    expect(bon.stderr).toMatch(/--model .*checkpoint: no such checkpoint folder/);
    // A folder without config.json is refused before any model code loads.
    const notACheckpoint = join(folder, "not-a-checkpoint");
    await mkdir(notACheckpoint, { recursive: true });
    await writeFile(join(notACheckpoint, "notes.txt"), "not a model");
    const score = await runCli([
      "score",
      ...["--model", notACheckpoint, "--candidates", candidatesFile],
      ...["--out", join(folder, "s.jsonl"), "--cache-dir", join(folder, "cache")],
    ]);
    expect(score.exitCode).toBe(1);
    expect(score.stderr).toMatch(/--model .*not-a-checkpoint: not a checkpoint folder \(no config\.json\)/);
    expect(existsSync(join(folder, "s.jsonl"))).toBe(false);
  });

  it("evaluates an outcome-level scores file: outcome methods beside the baselines, step methods n/a", async () => {
    const candidates = await readCandidateFile(candidatesFile);
    // One score per candidate: the logit of its last exact Q-value (an outcome reward model's reading).
    const outcomeFile = join(folder, "outcome-scores.jsonl");
    const outcome = candidates.questions.map((set) =>
      set.responses.map((response) => logit(response.annotations!.qValues!.at(-1)!)),
    );
    await writeOutcomeScoresFile(
      outcomeFile,
      { candidatesSha256: candidates.sha256, scorer: "orm" },
      outcome,
    );
    const args = [
      "eval",
      "bon",
      ...["--test", testFile, "--domain", "gsm", "--candidates", candidatesFile, "--scores", outcomeFile],
      ...["--n", "1,4,8", "--protocol", "reference", "--cache-dir", join(folder, "cache"), "--no-progress"],
    ];
    const json = await runCli([...args, "--out", join(folder, "bon-outcome"), "--json"], { cwd: folder });
    expect(json.exitCode, json.stderr).toBe(0);
    const results = JSON.parse(json.stdout) as { bestOfN: BestOfNResult };
    const evaluation = await evaluateCandidates(
      {
        questions: questions.map((question) => ({ ...question, domain: "gsm" as const })),
        candidates,
        scores: await readScoresFile(outcomeFile, { candidates }),
        checker: await loadDataAnswerChecker(),
      },
      {
        ns: [1, 4, 8],
        protocol: "reference",
        aggregation: "min",
        subsets: 100,
        seed: 0,
        bootstrapResamples: 1000,
      },
    );
    expect(results.bestOfN.scoreLevel).toBe("outcome");
    expect(results.bestOfN.methods).toEqual(JSON.parse(JSON.stringify(evaluation.bestOfN.methods)));
    expect(results.bestOfN.methods["orm-last"]).toBeNull();
    expect(results.bestOfN.notApplicable).toEqual({
      "orm-last": OUTCOME_NOT_APPLICABLE,
      sweep: OUTCOME_NOT_APPLICABLE,
    });
    expect(results.bestOfN.sweep).toEqual({});
    // The last exact Q-value says whether the answer is right: best-of-8 equals pass@8.
    expect(results.bestOfN.methods.bon[2]!.mean).toBe(results.bestOfN.methods.pass[2]!.mean);
    const table = await runCli([...args, "--out", join(folder, "bon-outcome-table")], { cwd: folder });
    expect(table.exitCode, table.stderr).toBe(0);
    const lines = table.stdout.split("\n");
    expect(lines[0]).toMatch(/outcome-level scores \(step-level methods n\/a\)/);
    expect(
      lines
        .find((line) => line.startsWith("orm-last "))
        ?.trim()
        .split(/\s+/),
    ).toEqual(["orm-last", "n/a", "n/a", "n/a"]);
    expect(
      lines
        .find((line) => line.startsWith("bon "))
        ?.trim()
        .split(/\s+/)
        .slice(1),
    ).toEqual(results.bestOfN.methods.bon.map((point) => formatPercent(point.mean)));
    expect(table.stdout).toContain("bon: Best outcome score");
    const markdown = await readFile(join(folder, "bon-outcome-table", "report.md"), "utf8");
    expect(markdown).toContain("| ORM-style (last step) | n/a | n/a | n/a |");
    expect(existsSync(join(folder, "bon-outcome-table", "aggregation-sweep.svg"))).toBe(false);
  });

  it("still refuses a step-level file with one score per candidate, naming file, line and field", async () => {
    const candidates = await readCandidateFile(candidatesFile);
    const oneEach = join(folder, "one-score-each.jsonl");
    await writeScoresFile(
      oneEach,
      { candidatesSha256: candidates.sha256, scorer: "orm" },
      candidates.questions.map((set) => set.responses.map(() => [0.5])),
    );
    const steps = candidates.questions[0]!.responses[0]!.steps.length;
    expect(steps).toBeGreaterThan(1);
    const run = await runCli(
      [
        "eval",
        "bon",
        ...["--test", testFile, "--domain", "gsm", "--candidates", candidatesFile, "--scores", oneEach],
        ...["--out", join(folder, "one-each"), "--cache-dir", join(folder, "cache")],
      ],
      { cwd: folder },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(
      `${oneEach}:2: field 'scores.0': question 0, candidate 0: 1 step scores but ${candidatesFile} has ${steps} steps`,
    );
    expect(run.stderr).toContain('"level": "outcome"');
    expect(existsSync(join(folder, "one-each"))).toBe(false);
  });

  it("refuses an unknown test set name with a usage exit code", async () => {
    const run = await runCli([
      "eval",
      "bon",
      ...["--test", "math5000", "--candidates", candidatesFile, "--scores", scoresFile],
    ]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(
      /'math5000' is neither a file nor a known test set \(math500, gsm-plus, gsm8k\)/,
    );
  });
});

describe.skipIf(!sharedAvailable)(`pqm eval on the shared data${sharedSkipReason}`, () => {
  it("resolves --test math500 through PQM_DATA_DIR and refuses candidates for another test set", async () => {
    const run = await runCli(
      ["eval", "bon", "--test", "math500", "--candidates", candidatesFile, "--scores", scoresFile],
      { env: { PQM_DATA_DIR: sharedPath("data") } },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(sharedPath("data", "math500", "test.jsonl"));
    expect(run.stderr).toContain(candidatesFile);
  });

  it("eval processbench: F1 per subset equals @pqm/eval's on scores made from the shared labels", async () => {
    const subsets = ["gsm8k", "math"];
    const common = ["--subsets", subsets.join(","), "--data-dir", sharedPath("data"), "--no-progress"];
    const exported = await runCli([
      "eval",
      "processbench",
      "--export",
      join(folder, "pb-candidates.json"),
      ...common,
      "--json",
    ]);
    expect(exported.exitCode, exported.stderr).toBe(0);
    const { candidatesSha256, items } = JSON.parse(exported.stdout) as {
      candidatesSha256: string;
      items: Record<string, number>;
    };
    expect(items).toEqual({ gsm8k: 400, math: 1000 });
    // Scores from the labels: +2 before the first wrong step, -2 from it; every fifth item's scores
    // reversed, so that the F1s are not all 1.
    const expectedItems: Record<string, ProcessBenchItem[]> = {};
    const scores: number[][][] = [];
    for (const subset of subsets) {
      expectedItems[subset] = [];
      for await (const trajectory of readProcessBench(sharedPath("data", "processbench", `${subset}.json`))) {
        const label = firstWrongStep(trajectory.hardLabels);
        const stepScores = trajectory.hardLabels.map((good) => (good ? 2 : -2) + 0.01 * scores.length);
        if (scores.length % 5 === 0) stepScores.reverse();
        expectedItems[subset]!.push({ label, stepScores });
        scores.push([stepScores]);
      }
    }
    const pbScores = join(folder, "pb-scores.jsonl");
    await writeScoresFile(pbScores, { candidatesSha256, scorer: "labels" }, scores);
    const f1Column = (stdout: string, subset: string) =>
      stdout
        .split("\n")
        .find((line) => line.startsWith(`${subset} `))
        ?.trim()
        .split(/\s+/)
        .at(-1);
    // Default: a fixed threshold, sigmoid(score) < 0.5 (a logit under 0), on every subset.
    const run = await runCli(
      ["eval", "processbench", "--scores", pbScores, ...common, "--out", join(folder, "pb-report")],
      { cwd: folder },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const fixed = evaluateProcessBench(expectedItems, { kind: "fixed", probability: 0.5 });
    expect(fixed.threshold).toBe(0);
    for (const subset of subsets) {
      expect(f1Column(run.stdout, subset), subset).toBe(formatPercent(fixed.subsets[subset]!.f1));
    }
    expect(run.stdout).toContain("sigmoid(score) < 0.5");
    expect(run.stdout).toContain(`mean F1 % over the subsets: ${formatPercent(fixed.meanF1)}`);
    expect(existsSync(join(folder, "pb-report", "report.md"))).toBe(true);
    // Tuned on GSM8K (ProcessBench's protocol), applied to all.
    const tunedRun = await runCli(
      ["eval", "processbench", "--scores", pbScores, ...common, "--threshold", "tune-on-gsm8k", "--json"],
      { cwd: folder },
    );
    expect(tunedRun.exitCode, tunedRun.stderr).toBe(0);
    const tuned = evaluateProcessBench(expectedItems, "gsm8k");
    const tunedResults = JSON.parse(tunedRun.stdout) as {
      processBench: { threshold: number; thresholdSubset: string; subsets: Record<string, { f1: number }> };
    };
    expect(tunedResults.processBench.thresholdSubset).toBe("gsm8k");
    expect(tunedResults.processBench.threshold).toBe(tuned.threshold);
    for (const subset of subsets) {
      expect(tunedResults.processBench.subsets[subset]!.f1).toBeCloseTo(tuned.subsets[subset]!.f1, 12);
    }
    expect(tuned.subsets.math!.f1).toBeLessThan(0.99);
    // The two protocols differ on these scores: later items are shifted up past 0, so the fixed
    // threshold misses their wrong steps, and tuning on GSM8K finds a better one there.
    expect(tuned.subsets.gsm8k!.f1).toBeGreaterThan(fixed.subsets.gsm8k!.f1);

    const wrong = join(folder, "pb-wrong.jsonl");
    await writeScoresFile(wrong, { candidatesSha256: "0".repeat(64), scorer: "labels" }, scores);
    const refused = await runCli(["eval", "processbench", "--scores", wrong, ...common], { cwd: folder });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(wrong);
    expect(refused.stderr).toMatch(/processbench-gsm8k-math\.candidates\.json/);
  });
});

describe("pqm eval processbench: bad input", () => {
  it("refuses a --threshold that is neither a probability nor tune-on-<subset>", async () => {
    for (const value of ["1.5", "0", "tune-gsm8k"]) {
      const run = await runCli(["eval", "processbench", "--scores", scoresFile, "--threshold", value]);
      expect(run.exitCode, value).toBe(2);
      expect(run.stderr).toMatch(/--threshold: expected a probability strictly between 0 and 1/);
    }
    const both = await runCli([
      "eval",
      "processbench",
      ...["--scores", scoresFile, "--threshold", "0.5", "--threshold-subset", "gsm8k"],
    ]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(
      /--threshold-subset gsm8k tunes the threshold, but --threshold 0\.5 fixes it/,
    );
  });

  it("refuses a threshold subset outside --subsets with a usage exit code", async () => {
    const run = await runCli([
      "eval",
      "processbench",
      ...["--scores", scoresFile, "--subsets", "math", "--threshold-subset", "gsm8k"],
    ]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--threshold-subset 'gsm8k' is not among --subsets math/);
  });
});
