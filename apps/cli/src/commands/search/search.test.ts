import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArithCompletionServer } from "@pqm/data";
import { startArithCompletionServer } from "@pqm/data";
import type { BestOfNResult } from "@pqm/eval";
import { readCandidateFile, readScoresFile } from "@pqm/eval";
import { getScoringConvention } from "@pqm/model";
import type { QuestionResult } from "@pqm/search";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";
import { loopbackScores, startVllmLoopback } from "../score/vllm-loopback.test-helper.js";
import type { SearchCommandResult } from "./search.js";
import { searchArithEnvironment } from "./search.js";
import type { SearchEvalResults } from "./search-eval.js";

const KEY = "sk-pqm-cli-search-5d1e0c9b7a";
let folder = "";
let server: ArithCompletionServer;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-search-"));
  // The server's environment must know the questions `pqm search --questions 6 --seed 2` asks.
  const environment = searchArithEnvironment(2);
  environment.testQuestions(6);
  server = await startArithCompletionServer({ environment, requiredApiKey: KEY });
});

afterAll(async () => {
  await server.close();
  await rm(folder, { recursive: true, force: true });
});

const rows = async (file: string) =>
  (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as QuestionResult);

describe("pqm search", () => {
  it("searches arith questions with the oracle, prints accuracy and tokens, and writes files pqm eval bon reads", async () => {
    const out = join(folder, "beam");
    const args = [
      "search",
      "--policy",
      "arith",
      "--prm",
      "oracle",
      "--method",
      "beam",
      "--n",
      "8",
      "--beam-width",
      "4",
    ];
    const run = await runCli([...args, "--questions", "6", "--seed", "2", "--out", out, "--json"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as SearchCommandResult;
    expect(result.accuracy).toBeGreaterThanOrEqual(0);
    expect(result.accuracy).toBeLessThanOrEqual(1);
    const results = await rows(join(out, "results.jsonl"));
    expect(results).toHaveLength(6);
    expect(result.accuracy).toBe(results.filter((row) => row.correct).length / 6);
    expect(result.generatedTokens).toBe(results.reduce((sum, row) => sum + row.compute.generatedTokens, 0));
    expect(result.compute.prmCalls).toBe(results.reduce((sum, row) => sum + row.compute.prmCalls, 0));
    // Every row carries the tree's exact truths.
    expect(results.every((row) => Array.isArray(row.extra?.exactQ))).toBe(true);

    // The candidates and scores files are what pqm eval bon reads.
    const candidates = await readCandidateFile(join(out, "candidates.json"));
    const scores = await readScoresFile(join(out, "scores.jsonl"), { candidates });
    expect(scores.header.scorer).toBe("exact-q");
    const bon = await runCli(
      [
        "eval",
        "bon",
        ...[
          "--test",
          join(out, "test.jsonl"),
          "--domain",
          "gsm",
          "--candidates",
          join(out, "candidates.json"),
        ],
        ...[
          "--scores",
          join(out, "scores.jsonl"),
          "--n",
          "1,4",
          "--aggregation",
          "last",
          "--protocol",
          "reference",
        ],
        ...["--out", join(out, "bon"), "--cache-dir", join(folder, "cache"), "--json"],
      ],
      { cwd: folder },
    );
    expect(bon.exitCode, bon.stderr).toBe(0);
    const evaluation = JSON.parse(bon.stdout) as { bestOfN: BestOfNResult };
    // Exact Q-values pick a right path whenever one of the first four is right.
    expect(evaluation.bestOfN.methods.bon[1]!.mean).toBe(evaluation.bestOfN.methods.pass[1]!.mean);

    // A rerun resumes: every question is read back, none searched again.
    const again = await runCli([...args, "--questions", "6", "--seed", "2", "--out", out, "--json"]);
    expect(again.exitCode, again.stderr).toBe(0);
    const resumed = JSON.parse(again.stdout) as SearchCommandResult;
    expect(resumed.resumed).toBe(6);
    expect(resumed.accuracy).toBe(result.accuracy);
    expect(resumed.generatedTokens).toBe(result.generatedTokens);
    expect(await rows(join(out, "results.jsonl"))).toHaveLength(6);
    // Other settings in the same folder are refused, naming the file.
    const other = await runCli(
      ["search", "--policy", "arith", "--prm", "oracle", "--method", "bon", "--n", "8"].concat([
        "--questions",
        "6",
        "--seed",
        "2",
        "--out",
        out,
      ]),
    );
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain(`${join(out, "results.jsonl")}:1: field 'run'`);
  });

  it("searches through OpenAI-compatible servers with the key from the environment, never printing it", async () => {
    const out = join(folder, "http");
    const run = await runCli(
      [
        "search",
        ...[
          "--policy-url",
          `${server.url},${server.url}/`,
          "--model",
          "arith",
          "--api-key-env",
          "PQM_SEARCH_TEST_KEY",
        ],
        ...["--prm", "oracle", "--method", "mcts", "--n", "6", "--beam-width", "3"],
        ...["--questions", "6", "--seed", "2", "--out", out, "--json"],
      ],
      { env: { PQM_SEARCH_TEST_KEY: KEY } },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as SearchCommandResult;
    expect(result.policy).toBe("openai:arith");
    expect(result.questions).toBe(6);
    expect(result.compute.policyCalls).toBeGreaterThan(0);
    expect(run.stdout + run.stderr).not.toContain(KEY);
    for (const name of readdirSync(out)) {
      if (name.endsWith(".json") || name.endsWith(".jsonl")) {
        expect(await readFile(join(out, name), "utf8"), name).not.toContain(KEY);
      }
    }
    // Without the key the servers refuse, and the command fails with exit code 1.
    const refused = await runCli([
      "search",
      ...["--policy-url", server.url, "--model", "arith", "--prm", "oracle", "--method", "bon", "--n", "2"],
      ...["--questions", "2", "--out", join(folder, "refused")],
    ]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/HTTP 401/);
  });

  it("refuses usage errors with exit code 2 and a clear message", async () => {
    const base = [
      "search",
      "--policy",
      "arith",
      "--method",
      "beam",
      "--questions",
      "2",
      "--out",
      join(folder, "x"),
    ];
    const cases: Array<[string[], RegExp]> = [
      [[...base, "--prm-url", "http://127.0.0.1:9/v1", "--n", "4"], /--prm-url needs --convention/],
      [
        [
          ...base,
          "--prm",
          "oracle",
          "--prm-url",
          "http://127.0.0.1:9",
          "--convention",
          "math-shepherd",
          "--n",
          "4",
        ],
        /give exactly one of --prm oracle\|<checkpoint> and --prm-url/,
      ],
      [[...base, "--n", "4"], /give exactly one of --prm/],
      [
        [
          ...base,
          "--prm-url",
          "http://127.0.0.1:9",
          "--convention",
          "math-shepherd",
          "--n",
          "4",
          "--prm-api-key",
          "sk-secret-value",
        ],
        /--prm-api-key is refused/,
      ],
      [[...base, "--prm", "oracle", "--n", "6"], /multiple of the beam width/],
      [[...base, "--prm", "oracle", "--n", "4", "--api-key", "sk-secret-value"], /--api-key is refused/],
      [
        [
          "search",
          "--policy",
          "arith",
          "--prm",
          "oracle",
          "--method",
          "bon",
          "--n",
          "2",
          "--test",
          "t.jsonl",
          "--out",
          "x",
        ],
        /--questions/,
      ],
      [[...base, "--prm", "oracle", "--n", "4", "--method", "greedy"], /--method 'greedy' is not one of/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args);
      expect(run.exitCode, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toContain("sk-secret-value");
    }
  });

  it("guides the search with a PRM behind vLLM's pooling API (--prm-url), the key from PQM_PRM_API_KEY", async () => {
    const prmKey = "pqm-prm-search-key-6e2b90c1";
    const prm = await startVllmLoopback({
      tag: "ки",
      readout: "token-pair",
      model: "peiyi9979/math-shepherd-mistral-7b-prm",
      requiredApiKey: prmKey,
    });
    try {
      const out = join(folder, "remote-prm");
      const run = await runCli(
        [
          "search",
          ...["--policy", "arith", "--prm-url", prm.url, "--convention", "math-shepherd"],
          ...[
            "--method",
            "beam",
            "--n",
            "4",
            "--beam-width",
            "2",
            "--questions",
            "3",
            "--out",
            out,
            "--json",
          ],
        ],
        { env: { PQM_PRM_API_KEY: prmKey } },
      );
      expect(run.exitCode, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as SearchCommandResult;
      expect(result.prm).toBe("vllm-pooling-math-shepherd-peiyi9979/math-shepherd-mistral-7b-prm");
      expect(result.compute.prmCalls).toBeGreaterThan(0);
      expect(prm.requests).toBeGreaterThan(0);
      expect(prm.authorizations.every((header) => header === `Bearer ${prmKey}`)).toBe(true);
      expect(run.stdout + run.stderr).not.toContain(prmKey);
      // The scores the search saw are the server's, step by step, for the Math-Shepherd text of each path.
      const candidates = await readCandidateFile(join(out, "candidates.json"));
      const scores = await readScoresFile(join(out, "scores.jsonl"), { candidates });
      expect(scores.header.scorer).toBe(result.prm);
      const convention = getScoringConvention("math-shepherd");
      candidates.questions.forEach((set, q) => {
        set.responses.forEach((response, c) => {
          const want = loopbackScores(convention.renderText(set.question, response.steps), "ки");
          expect(scores.scores[q]![c]!.length).toBe(want.length);
          scores.scores[q]![c]!.forEach((score, s) => {
            expect(score).toBeCloseTo(want[s]!, 9);
          });
        });
      });
    } finally {
      await prm.close();
    }
  }, 120_000);

  it("guides the search with a trained checkpoint (pqm train), naming it in the scores file", async () => {
    const environment = searchArithEnvironment(0);
    const corpus = join(folder, "train.jsonl");
    await environment.writeExactTrainingCorpus(corpus, { questions: 16, samplesPerQuestion: 2 });
    const runDir = join(folder, "run");
    const train = await runCli(
      [
        "train",
        "--train",
        corpus,
        "--backbone",
        "preset:tiny",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--out",
        runDir,
        "--json",
      ],
      { cwd: folder, timeoutMs: 300_000 },
    );
    expect(train.exitCode, train.stderr).toBe(0);
    const checkpoint = (JSON.parse(train.stdout) as { checkpoint: string }).checkpoint;
    const out = join(folder, "model");
    const run = await runCli(
      [
        "search",
        ...["--policy", "arith", "--prm", checkpoint, "--method", "beam", "--n", "4", "--beam-width", "2"],
        ...["--questions", "3", "--out", out, "--json"],
      ],
      { timeoutMs: 300_000 },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as SearchCommandResult;
    expect(result.prm).toMatch(/^pqm-prm-[0-9a-f]{16}-checkpoint-/);
    const candidates = await readCandidateFile(join(out, "candidates.json"));
    const scores = await readScoresFile(join(out, "scores.jsonl"), { candidates });
    expect(scores.header.scorer).toBe(result.prm);
    // The model's scores, not the oracle's: they are not all clamped logits of 0 and 1.
    const flat = scores.scores.flat(2);
    expect(flat.some((score) => Math.abs(score) < 15)).toBe(true);
  }, 600_000);

  it("search-eval: runs every search over seeds, writes the report and the target comparison", async () => {
    const out = join(folder, "eval");
    const args = [
      "search-eval",
      "--questions",
      "4",
      "--seeds",
      "2",
      "--searches",
      "bon/1 bon/64,beam/16/4",
      "--out",
      out,
    ];
    const run = await runCli([...args, "--json"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout) as SearchEvalResults;
    expect(results.points.map((point) => point.label)).toEqual(["bon N=1", "bon N=64", "beam N=16 m=4"]);
    expect(results.points.every((point) => point.runs.length === 2 && point.scorer === "oracle")).toBe(true);
    const bon = results.points[1]!;
    const beam = results.points[2]!;
    expect(results.target!.tokenRatio).toBeCloseTo(
      beam.meanGeneratedTokens.mean / bon.meanGeneratedTokens.mean,
      12,
    );
    expect(results.target!.differencePoints.mean).toBeCloseTo(
      100 * (beam.accuracy.mean - bon.accuracy.mean),
      9,
    );
    for (const name of ["results.json", "report.md", "accuracy-vs-tokens.svg", "accuracy-vs-tokens.png"]) {
      expect(readdirSync(out)).toContain(name);
    }
    expect(readdirSync(join(out, "runs"))).toHaveLength(6);
    const report = await readFile(join(out, "report.md"), "utf8");
    expect(report).toContain("| beam N=16 m=4 |");
    const bad = await runCli(["search-eval", "--searches", "beam/6/4", "--out", join(folder, "bad")]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/multiple of the beam width/);
    const unknown = await runCli(["search-eval", "--searches", "greedy/4", "--out", join(folder, "bad")]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/--searches 'greedy\/4'/);
  });
});
