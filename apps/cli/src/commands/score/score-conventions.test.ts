import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCandidateFile, readScoresFile } from "@pqm/eval";
import { scoringConventionNames } from "@pqm/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

// The published-PRM fixtures of @pqm/model: tiny Hugging Face folders laid out as each family publishes
// them, with the log-odds an independent PyTorch forward pass gives (test/fixtures/prm-conventions).
const fixturesRoot = fileURLToPath(
  new URL("../../../../../packages/model/test/fixtures/prm-conventions/", import.meta.url),
);

interface ReferenceCase {
  question: string;
  steps: string[];
  step_log_odds: number[];
}

function reference(convention: string): ReferenceCase[] {
  const file = join(fixturesRoot, convention, "reference.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { cases: ReferenceCase[] }).cases;
}

let folder = "";

/** A candidate file with one question per reference case, its one response holding the case's steps. */
async function candidatesFor(convention: string): Promise<string> {
  const file = join(folder, `${convention}.candidates.json`);
  const sets = reference(convention).map((c) => ({
    question: c.question,
    responses: [{ text: c.steps.join("\n"), model_name: "fixture", steps: c.steps }],
  }));
  await writeFile(file, JSON.stringify(sets));
  return file;
}

/** Largest |written − reference| over every step. */
async function worstAgainstReference(convention: string, candidates: string, scoresFile: string) {
  const scores = await readScoresFile(scoresFile, { candidates: await readCandidateFile(candidates) });
  const want = reference(convention).map((c) => c.step_log_odds);
  expect(scores.scores.map((question) => question[0]!.length)).toEqual(want.map((steps) => steps.length));
  return Math.max(
    ...scores.scores.flatMap((question, q) => question[0]!.map((s, k) => Math.abs(s - want[q]![k]!))),
  );
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-conventions-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("pqm score --model <a published PRM's folder>", () => {
  it("detects the convention of a Qwen2.5-Math-PRM folder and writes its log-odds", async () => {
    const candidates = await candidatesFor("qwen2.5-math-prm");
    const out = join(folder, "qwen.scores.jsonl");
    const run = await runCli([
      "score",
      ...["--model", join(fixturesRoot, "qwen2.5-math-prm", "model"), "--candidates", candidates],
      ...["--out", out, "--cache-dir", join(folder, "cache"), "--backend", "cpu"],
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /convention qwen2\.5-math-prm \(detected: architectures Qwen2ForProcessRewardModel\)/,
    );
    expect(run.stdout).toMatch(
      /^wrote 15 step scores of 4 candidates \(4 questions\) by qwen2\.5-math-prm-[0-9a-f]{16}-model to /,
    );
    expect(await worstAgainstReference("qwen2.5-math-prm", candidates, out)).toBeLessThanOrEqual(1e-4);
  });

  it("scores PQM's released state dict named with --convention on its --backbone folder", async () => {
    const candidates = await candidatesFor("pqm-release");
    const out = join(folder, "release.scores.jsonl");
    const run = await runCli([
      "score",
      ...[
        "--model",
        join(fixturesRoot, "pqm-release", "model"),
        "--backbone",
        join(fixturesRoot, "pqm-release", "backbone"),
      ],
      ...["--convention", "pqm-release", "--candidates", candidates],
      ...["--out", out, "--cache-dir", join(folder, "cache"), "--json"],
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { scorer: string; cached: boolean };
    expect(result.scorer).toMatch(/^pqm-release-[0-9a-f]{16}-model$/);
    expect(result.cached).toBe(false);
    expect(await worstAgainstReference("pqm-release", candidates, out)).toBeLessThanOrEqual(1e-4);
  });

  it("refuses an unknown convention with the known names, and a state dict without its backbone", async () => {
    const candidates = await candidatesFor("math-shepherd");
    const base = ["score", "--candidates", candidates, "--cache-dir", join(folder, "cache")];
    const unknown = await runCli([
      ...base,
      ...["--model", join(fixturesRoot, "math-shepherd", "model"), "--convention", "shepherd"],
      ...["--out", join(folder, "unknown.jsonl")],
    ]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain(
      `--convention: unknown convention 'shepherd' (known: ${scoringConventionNames.join(", ")})`,
    );
    const bare = await runCli([
      ...base,
      ...["--model", join(fixturesRoot, "pqm-release", "model"), "--out", join(folder, "bare.jsonl")],
    ]);
    expect(bare.exitCode).toBe(1);
    expect(bare.stderr).toMatch(/not a checkpoint folder \(no config\.json\).*needs --backbone/);
  });

  it("names the tensor a wrong --convention lacks and what the folder looks like", async () => {
    const candidates = await candidatesFor("trl-token-classification");
    const run = await runCli([
      "score",
      ...[
        "--model",
        join(fixturesRoot, "trl-token-classification", "model"),
        "--convention",
        "qwen2.5-math-prm",
      ],
      ...[
        "--candidates",
        candidates,
        "--out",
        join(folder, "wrong.jsonl"),
        "--cache-dir",
        join(folder, "cache"),
      ],
      ...["--backend", "cpu", "--no-progress"],
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      /model\.safetensors: 'score\.0\.weight': tensor not found; this folder looks like trl-token-classification/,
    );
  });
});

describe("pqm score --model <a folder written by pqm export --format hf-token-classification>", () => {
  it("detects pqm-export and writes the scores pqm's own checkpoint gives (1e-5), for both targets", async () => {
    // A random small PRM saved as a pqm checkpoint, scored by pqm itself, then exported and scored back.
    const { ProcessRewardModel, buildWordTokenizer, saveCheckpoint, selectBackend } = await import(
      "@pqm/model"
    );
    await selectBackend({ backend: "cpu" });
    const sets = [
      {
        question: "Compute $\\frac{3}{4} + \\frac{1}{8}$.",
        steps: [
          "Rewrite $\\frac{3}{4}$ as $\\frac{6}{8}$.",
          "Then $\\frac{6}{8} + \\frac{1}{8} = \\frac{7}{8}$.",
          "The answer is $\\boxed{\\frac{7}{8}}$.",
        ],
      },
      {
        question: "Find all real $x$ with $x^2 - 5x + 6 = 0$.",
        steps: ["Step 1: Factor: $(x-2)(x-3) = 0$.", "  So $x = 2$ or $x = 3$."],
      },
      {
        question: "What is $f(f(1))$ for $f(x) = 2x + 3$?",
        steps: ["$f(1) = 5$ and $f(5) = 13$, so $\\boxed{13}$."],
      },
    ];
    const tokenizer = buildWordTokenizer(sets.flatMap((set) => [set.question, ...set.steps]));
    const model = ProcessRewardModel.fromScratch(
      {
        model_type: "llama",
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
      },
      tokenizer,
      { seed: 9 },
    );
    const checkpoint = join(folder, "pqm-checkpoint");
    await saveCheckpoint(checkpoint, model);
    model.dispose();
    const candidates = join(folder, "pqm-export.candidates.json");
    await writeFile(
      candidates,
      JSON.stringify(
        sets.map((set) => ({
          question: set.question,
          responses: [{ text: set.steps.join("\n"), model_name: "fixture", steps: set.steps }],
        })),
      ),
    );
    const score = (model: string, out: string) =>
      runCli([
        ...["score", "--model", model, "--candidates", candidates, "--out", out],
        ...["--cache-dir", join(folder, "export-cache"), "--backend", "cpu"],
      ]);
    const read = async (file: string) =>
      (await readScoresFile(file, { candidates: await readCandidateFile(candidates) })).scores.map(
        (question) => question[0]!,
      );
    const ownRun = await score(checkpoint, join(folder, "own.scores.jsonl"));
    expect(ownRun.exitCode, ownRun.stderr).toBe(0);
    const own = await read(join(folder, "own.scores.jsonl"));
    expect(own.map((steps) => steps.length)).toEqual([3, 2, 1]);
    expect(Math.max(...own.flat()) - Math.min(...own.flat())).toBeGreaterThan(1e-3);
    for (const target of ["transformers", "vllm"]) {
      const exported = join(folder, `pqm-export-${target}`);
      const exportRun = await runCli([
        ...["export", "--format", "hf-token-classification", "--model", checkpoint],
        ...["--out", exported, "--target", target],
      ]);
      expect(exportRun.exitCode, exportRun.stderr).toBe(0);
      const out = join(folder, `export-${target}.scores.jsonl`);
      const run = await score(exported, out);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toMatch(
        /convention pqm-export \(detected: pqm_export\.json \(written by pqm's Hugging Face export\)/,
      );
      expect(run.stdout).toMatch(new RegExp(`by pqm-export-[0-9a-f]{16}-pqm-export-${target} to `));
      const got = await read(out);
      expect(got.map((steps) => steps.length)).toEqual([3, 2, 1]);
      const worst = Math.max(...got.flatMap((steps, q) => steps.map((s, k) => Math.abs(s - own[q]![k]!))));
      expect(worst, target).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe("pqm eval processbench --model <a published PRM's folder>", () => {
  it("scores the items with PQM's release (--convention, --backbone), cached as pqm score caches them", async () => {
    // A local ProcessBench copy of four items.
    const dataDir = join(folder, "data");
    await mkdir(join(dataDir, "processbench"), { recursive: true });
    const items = Array.from({ length: 4 }, (_, i) => ({
      id: `gsm8k-${i}`,
      generator: "fixture",
      problem: `What is ${i} + 3?`,
      steps: [`${i} + 3 = ${i + 3 + (i % 2)}.`, `So the answer is ${i + 3 + (i % 2)}.`],
      final_answer_correct: i % 2 === 0,
      label: i % 2 === 0 ? -1 : 0,
    }));
    await writeFile(join(dataDir, "processbench", "gsm8k.json"), JSON.stringify(items));
    const model = ["--model", join(fixturesRoot, "pqm-release", "model")];
    const named = [
      "--convention",
      "pqm-release",
      "--backbone",
      join(fixturesRoot, "pqm-release", "backbone"),
    ];
    const cacheDir = join(folder, "pb-cache");
    const run = await runCli([
      ...["eval", "processbench", ...model, ...named, "--subsets", "gsm8k", "--data-dir", dataDir],
      ...["--cache-dir", cacheDir, "--out", join(folder, "pb"), "--json"],
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout) as { config: Record<string, unknown> };
    expect(results.config).toMatchObject({ convention: "pqm-release", subsets: ["gsm8k"] });
    // pqm score on the same items finds the scores the evaluation cached: the same scorer.
    const again = await runCli([
      ...["score", ...model, ...named, "--candidates", join(cacheDir, "processbench-gsm8k.candidates.json")],
      ...["--out", join(folder, "pb.scores.jsonl"), "--cache-dir", cacheDir, "--json"],
    ]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ cached: true, steps: 8 });
  });
});
