import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory, Question } from "@pqm/core";
import { ArithEnvironment, candidateTrajectories, writeJsonl } from "@pqm/data";
import {
  type BestOfNResult,
  evaluateCandidates,
  evaluateProcessBench,
  firstWrongStep,
  loadDataAnswerChecker,
  readCandidateFile,
  readScoresFile,
} from "@pqm/eval";
import type { Float32TensorData } from "@pqm/model";
import { loadCheckpoint, readSafetensorsFile, selectBackend, serializeSafetensors } from "@pqm/model";
import { startLoopbackHub } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliRun } from "../../run-cli.test-helper.js";
import { cliBinPath, runCli } from "../../run-cli.test-helper.js";
import { loadModelScorer } from "../../shared/model-scorer.js";
import { resumeCommand } from "./train-command.js";

let folder = "";
let configFolder = "";
let candidatesFile = "";
let testFile = "";
let questions: Question[] = [];
let validationSteps = 0;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-train-"));
  configFolder = join(folder, "config");
  await mkdir(configFolder);
  const environment = new ArithEnvironment({ seed: 0 });
  await writeJsonl(
    join(configFolder, "train.jsonl"),
    environment.exactTrainingCorpus({ questions: 30, samplesPerQuestion: 2 }),
  );
  const validation: LabeledTrajectory[] = environment.exactTrainingCorpus({
    questions: 10,
    samplesPerQuestion: 2,
    offset: 30,
  });
  // The AUROC below needs both classes among the validation steps.
  const labels = validation.flatMap((trajectory) => trajectory.hardLabels);
  expect(new Set(labels)).toEqual(new Set([0, 1]));
  validationSteps = labels.length;
  await writeJsonl(join(configFolder, "validation.jsonl"), validation);
  // A small ProcessBench subset from the same solutions, where `eval processbench` looks for local copies.
  await mkdir(join(folder, "data", "processbench"), { recursive: true });
  await writeFile(
    join(folder, "data", "processbench", "gsm8k.json"),
    JSON.stringify(
      validation.map((trajectory, index) => ({
        id: `gsm8k-${index}`,
        generator: "arith",
        problem: trajectory.question.text,
        steps: trajectory.steps,
        final_answer_correct: trajectory.hardLabels.every((label) => label === 1),
        label: firstWrongStep(trajectory.hardLabels),
      })),
    ),
  );
  candidatesFile = join(folder, "candidates.json");
  await environment.writeCandidateFile(candidatesFile, { questions: 4, n: 4 });
  questions = environment.testQuestions(4);
  testFile = join(folder, "test.jsonl");
  await writeFile(
    testFile,
    questions
      .map((question) => JSON.stringify({ question: question.text, answer: question.answer }))
      .join("\n"),
  );
  // Data paths are relative to the config file's folder, not to the working directory.
  await writeFile(
    join(configFolder, "train.yaml"),
    [
      "data:",
      "  train: train.jsonl",
      "  validation: validation.jsonl",
      "model:",
      "  backbone: preset:tiny",
      "training:",
      "  zeta: 2",
      "  learningRate: 0.005",
      "  batchSize: 8",
      "  maxSteps: 10",
      "output:",
      "  checkpointEvery: 2",
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

interface TrainJson {
  steps: number;
  resumedFromStep: number | null;
  checkpoint: string;
  checkpoints: string[];
  metrics: string;
  tokensPerSecond: number;
  validation: { loss: number; auroc: number; steps: number };
  model: { backbone: string; hiddenSize: number };
  config: { training: { zeta: number; maxSteps: number; learningRate: number; beta1: number; loss: string } };
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

async function metricSteps(path: string): Promise<number[]> {
  const lines = (await readFile(path, "utf8")).trim().split("\n");
  return lines
    .map((line) => JSON.parse(line) as { step: number; final?: boolean })
    .filter((record) => record.final !== true)
    .map((record) => record.step);
}

const run = () => join(folder, "run");

describe("pqm train", () => {
  it("trains a tiny preset from a YAML config, flags winning over the file, and writes checkpoints", async () => {
    const result = await runCli(
      ["train", "--config", join(configFolder, "train.yaml"), "--steps", "4", "--out", run(), "--json"],
      { cwd: folder },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as TrainJson;
    expect(summary.steps).toBe(4);
    expect(summary.resumedFromStep).toBeNull();
    // Defaults < file < flags: the flag's 4 steps beat the file's 10; the file's zeta beats the default 4.
    expect(summary.config.training).toMatchObject({ maxSteps: 4, zeta: 2, learningRate: 0.005, beta1: 0.9 });
    expect(summary.model).toMatchObject({ backbone: "preset:tiny", hiddenSize: 64 });
    expect(summary.checkpoints).toEqual([join(run(), "checkpoint-000002"), join(run(), "checkpoint-000004")]);
    expect(summary.checkpoint).toBe(join(run(), "checkpoint-000004"));
    const metadata = await readJson<{ step: number; loss: string; zeta: number }>(
      join(summary.checkpoint, "pqm.json"),
    );
    expect(metadata).toMatchObject({ step: 4, loss: "pqm", zeta: 2 });
    expect(await metricSteps(summary.metrics)).toEqual([1, 2, 3, 4]);
    expect(summary.validation.steps).toBe(validationSteps);
    expect(summary.validation.auroc).toBeGreaterThanOrEqual(0);
    expect(summary.validation.auroc).toBeLessThanOrEqual(1);
    expect(Number.isFinite(summary.validation.loss)).toBe(true);
    expect(summary.tokensPerSecond).toBeGreaterThan(0);
    expect(existsSync(join(run(), "train-config.json"))).toBe(true);
  });

  it("--resume continues the step count from a checkpoint into the same folder, showing its progress", async () => {
    const result = await runCli([
      "train",
      ...["--config", join(configFolder, "train.yaml"), "--resume", join(run(), "checkpoint-000004")],
      ...["--steps", "6", "--backend", "wasm"],
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^trained 6 steps \(resumed at step 4\), stopped by steps/);
    const checkpoint = join(run(), "checkpoint-000006");
    expect(result.stdout).toContain(`checkpoint: ${checkpoint}\n`);
    expect((await readJson<{ step: number }>(join(checkpoint, "pqm.json"))).step).toBe(6);
    expect(await metricSteps(join(run(), "metrics.jsonl"))).toEqual([1, 2, 3, 4, 5, 6]);
    // stderr is a pipe here: the backend line, then @pqm/model's progress events as plain lines.
    const lines = result.stderr.split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/^training on wasm \(/));
    expect(lines).toContain("train: resuming at step 4, 6 steps");
    // wasm with onnxruntime-node (a dependency of the CLI) and the pqm loss: the whole step is one ONNX
    // Runtime run.
    expect(lines).toContain("train: the whole step (decoder, value head, loss) in one ONNX Runtime run");
    expect(lines).toContainEqual(expect.stringMatching(/^train: step 6\/6, loss \d+\.\d{4}, lr /));
    expect(lines).toContainEqual(expect.stringMatching(/^train: final validation at step 6: loss /));
    expect(lines).toContain(`train: checkpoint ${checkpoint}`);
    expect(lines).toContain("train: stopped at step 6/6 (steps)");
  });

  it("refuses a config file with a bad field, naming the file and the dotted field", async () => {
    const write = async (name: string, text: string) => {
      await writeFile(join(configFolder, name), text);
      return join(configFolder, name);
    };
    // Independent runs, started together to keep the suite short.
    const [badValue, unknown, syntax, badFlag] = await Promise.all([
      write("bad-value.yaml", "data:\n  train: train.jsonl\ntraining:\n  zeta: four\n").then((file) =>
        runCli(["train", "--config", file]),
      ),
      write("unknown.yaml", "data:\n  train: train.jsonl\ntraining:\n  zetta: 2\n").then((file) =>
        runCli(["train", "--config", file]),
      ),
      write("syntax.yaml", "data:\n  train: [train.jsonl\n").then((file) =>
        runCli(["train", "--config", file]),
      ),
      runCli(["train", "--train", join(configFolder, "train.jsonl"), "--steps", "2.5"]),
    ]);
    expect(badValue.exitCode).toBe(2);
    expect(badValue.stderr).toContain(
      `bad-value.yaml: field 'training.zeta': expected a number >= 0, got "four"`,
    );
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(
      /unknown\.yaml: field 'training\.zetta': unknown field \(known here: loss, zeta,/,
    );
    expect(syntax.exitCode).toBe(2);
    expect(syntax.stderr).toMatch(/syntax\.yaml:3:1: not valid YAML/);
    expect(badFlag.exitCode).toBe(2);
    expect(badFlag.stderr).toContain("--steps: expected a whole number >= 1, got 2.5");
  });

  it("refuses a bad --backbone before training", async () => {
    const train = ["train", "--train", join(configFolder, "train.jsonl")];
    const [missing, preset, notAModel] = await Promise.all([
      runCli([...train, "--backbone", join(folder, "no-such-model")], { cwd: folder }),
      runCli([...train, "--backbone", "preset:huge"], { cwd: folder }),
      runCli([...train, "--backbone", configFolder], { cwd: folder }),
    ]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/--backbone '.*no-such-model': no such folder/);
    expect(preset.exitCode).toBe(2);
    expect(preset.stderr).toContain("unknown size preset 'huge' (known: preset:tiny, preset:small");
    expect(notAModel.exitCode).toBe(2);
    expect(notAModel.stderr).toMatch(/has no config\.json/);
    // Nothing was started: no default output folder appeared.
    expect(existsSync(join(folder, "pqm-runs"))).toBe(false);
  });
});

/** Runs `pqm` and sends it `signal` once a stderr line matches `when`. */
function runCliInterrupted(args: readonly string[], when: RegExp, signal: NodeJS.Signals): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBinPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? 128, stdout, stderr });
    });
  });
}

describe("pqm train interrupted", () => {
  const trainArgs = (out: string) => [
    ...["train", "--config", join(configFolder, "train.yaml"), "--steps", "12", "--backend", "wasm"],
    ...["--out", join(folder, out)],
  ];

  it("keeps the step in flight on SIGTERM and SIGINT, and the same command resumes to the same weights", async () => {
    const straight = await runCli(trainArgs("straight"));
    expect(straight.exitCode, straight.stderr).toBe(0);

    // SIGTERM once the first periodic checkpoint is written: the step in flight finishes and is kept.
    const terminated = await runCliInterrupted(trainArgs("stopped"), /train: checkpoint /, "SIGTERM");
    expect(terminated.exitCode, terminated.stderr).toBe(143);
    const message =
      /interrupted by SIGTERM after step (\d+): kept (\S+) \(weights, optimizer state, data position\) and (\S+) \(steps 1-\d+\); resume with: (.*)\n/.exec(
        terminated.stderr,
      );
    expect(message, terminated.stderr).not.toBeNull();
    const stoppedAt = Number(message![1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(3);
    expect(stoppedAt).toBeLessThan(12);
    expect(message![2]).toBe(join(folder, "stopped", `checkpoint-${String(stoppedAt).padStart(6, "0")}`));
    expect((await readJson<{ step: number }>(join(message![2]!, "pqm.json"))).step).toBe(stoppedAt);
    expect(message![4]).toBe(`pqm ${trainArgs("stopped").join(" ")}`);
    expect(await metricSteps(join(folder, "stopped", "metrics.jsonl"))).toEqual(
      Array.from({ length: stoppedAt }, (_, index) => index + 1),
    );

    // The same command again: it resumes, and a Ctrl-C stops it once more.
    const interrupted = await runCliInterrupted(trainArgs("stopped"), /train: resuming at step/, "SIGINT");
    expect(interrupted.exitCode, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toMatch(/interrupted by SIGINT after step \d+: /);

    const finished = await runCli(trainArgs("stopped"));
    expect(finished.exitCode, finished.stderr).toBe(0);
    expect(finished.stdout).toMatch(/^trained 12 steps \(resumed at step \d+\)/);
    // Each step logged once, and the weights bit for bit those of the uninterrupted run.
    expect(await metricSteps(join(folder, "stopped", "metrics.jsonl"))).toEqual(
      Array.from({ length: 12 }, (_, index) => index + 1),
    );
    const weights = async (run: string) =>
      readFile(join(folder, run, "checkpoint-000012", "model.safetensors"));
    expect(Buffer.compare(await weights("stopped"), await weights("straight"))).toBe(0);
  });

  it("prints a resume command without --resume or --overwrite, with the output folder", () => {
    expect(
      resumeCommand(["--config", "my train.yaml", "--resume", "runs/a/checkpoint-000004"], "runs/a"),
    ).toBe("pqm train --config 'my train.yaml' --out runs/a");
    expect(resumeCommand(["--overwrite", "--out=runs/b", "--steps", "9"], "runs/b")).toBe(
      "pqm train --out=runs/b --steps 9",
    );
  });

  it("refuses a folder with a run but no checkpoint, and --overwrite starts over", async () => {
    const out = join(folder, "no-checkpoint");
    await mkdir(out, { recursive: true });
    await writeFile(join(out, "metrics.jsonl"), `${JSON.stringify({ step: 1, loss: 1 })}\n`);
    const refused = await runCli([...trainArgs("no-checkpoint"), "--steps", "2"]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(
      `pqm: ${out} already holds a run (metrics.jsonl) but no checkpoint to resume from; start over with --overwrite, or choose another --out`,
    );
    const overwritten = await runCli([...trainArgs("no-checkpoint"), "--steps", "2", "--overwrite"]);
    expect(overwritten.exitCode, overwritten.stderr).toBe(0);
    expect(await metricSteps(join(out, "metrics.jsonl"))).toEqual([1, 2]);
  });
});

describe("pqm score --model and pqm eval bon --model", () => {
  const scoresFile = () => join(folder, "scores.jsonl");
  const cacheDir = () => join(folder, "cache");

  it("writes a pqm-scores/1 file with the checkpoint's own step scores", async () => {
    const checkpoint = join(run(), "checkpoint-000006");
    const result = await runCli([
      "score",
      ...["--model", checkpoint, "--candidates", candidatesFile, "--out", scoresFile()],
      ...["--cache-dir", cacheDir(), "--backend", "wasm", "--json"],
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { scorer: string; cached: boolean; steps: number };
    expect(summary.cached).toBe(false);
    const candidates = await readCandidateFile(candidatesFile);
    // readScoresFile checks the format, the candidate file's hash and one score per step.
    const scores = await readScoresFile(scoresFile(), { candidates });
    expect(scores.header.scorer).toBe(summary.scorer);
    expect(summary.steps).toBe(scores.scores.flat(2).length);

    // The same checkpoint scored in this process gives the same numbers.
    await selectBackend({ backend: "wasm" });
    const { model } = await loadCheckpoint(checkpoint);
    try {
      for (const [index, set] of candidates.questions.entries()) {
        const question: Question = { id: String(index), text: set.question, answer: null, domain: "math" };
        const expected = await model.scoreSteps(candidateTrajectories(set, question));
        const written = scores.scores[index]!;
        expected.forEach((steps, candidate) => {
          steps.forEach((score, step) => {
            expect(written[candidate]![step]).toBeCloseTo(score, 5);
          });
        });
      }
    } finally {
      model.dispose();
    }

    const again = await runCli([
      "score",
      ...["--model", checkpoint, "--candidates", candidatesFile, "--out", join(folder, "again.jsonl")],
      ...["--cache-dir", cacheDir(), "--json"],
    ]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { cached: boolean }).cached).toBe(true);
    expect(await readFile(join(folder, "again.jsonl"), "utf8")).toBe(await readFile(scoresFile(), "utf8"));
  });

  it("says that it scores, and on which backend, when it loads the model", async () => {
    const lines: string[] = [];
    const scorer = await loadModelScorer(join(run(), "checkpoint-000006"), {
      backend: "wasm",
      log: (line) => lines.push(line),
    });
    try {
      const candidates = await readCandidateFile(candidatesFile);
      const set = candidates.questions[0]!;
      const question: Question = { id: "0", text: set.question, answer: null, domain: "math" };
      await scorer.scoreSteps(candidateTrajectories(set, question).slice(0, 1));
    } finally {
      scorer.dispose();
    }
    expect(lines).toContainEqual(expect.stringMatching(/^scoring on wasm \(.*thread/));
    expect(lines.join("\n")).not.toContain("training");
  });

  it("eval bon --model gives the accuracies of the checkpoint's scores", async () => {
    const out = join(folder, "bon");
    const result = await runCli([
      "eval",
      "bon",
      ...["--test", testFile, "--domain", "gsm", "--candidates", candidatesFile],
      ...["--model", join(run(), "checkpoint-000006"), "--n", "1,4", "--protocol", "reference"],
      ...["--out", out, "--cache-dir", cacheDir(), "--json"],
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    const results = JSON.parse(result.stdout) as {
      config: { model: string };
      bestOfN: BestOfNResult;
    };
    expect(results.config.model).toBe(join(run(), "checkpoint-000006"));
    const candidates = await readCandidateFile(candidatesFile);
    const evaluation = await evaluateCandidates(
      {
        questions: questions.map((question) => ({ ...question, domain: "gsm" as const })),
        candidates,
        scores: await readScoresFile(scoresFile(), { candidates }),
        checker: await loadDataAnswerChecker(),
      },
      {
        ns: [1, 4],
        aggregation: "min",
        protocol: "reference",
        subsets: 100,
        seed: 0,
        bootstrapResamples: 1000,
      },
    );
    expect(results.bestOfN.methods).toEqual(JSON.parse(JSON.stringify(evaluation.bestOfN)).methods);
    expect(existsSync(join(out, "results.json"))).toBe(true);
  });
  it("eval processbench --model scores every item and gives @pqm/eval's F1 on those scores", async () => {
    const cache = join(folder, "pb-cache");
    const result = await runCli([
      "eval",
      "processbench",
      ...["--model", join(run(), "checkpoint-000006"), "--subsets", "gsm8k", "--threshold-subset", "gsm8k"],
      ...["--data-dir", join(folder, "data"), "--cache-dir", cache, "--out", join(folder, "pb"), "--json"],
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    const results = JSON.parse(result.stdout) as {
      config: { model: string };
      processBench: { subsets: Record<string, { f1: number }> };
    };
    expect(results.config.model).toBe(join(run(), "checkpoint-000006"));
    // The model's scores are in the cache beside the items' candidate file.
    const candidates = await readCandidateFile(join(cache, "processbench-gsm8k.candidates.json"));
    const cached = (await readdir(cache)).filter((name) => name.endsWith(".scores.jsonl"));
    expect(cached).toHaveLength(1);
    const scores = await readScoresFile(join(cache, cached[0]!), { candidates });
    expect(scores.header.scorer).toMatch(/^pqm-prm-[0-9a-f]{16}-checkpoint-000006$/);
    const labels = JSON.parse(await readFile(join(folder, "data", "processbench", "gsm8k.json"), "utf8")) as {
      label: number;
    }[];
    const expected = evaluateProcessBench(
      { gsm8k: labels.map((item, index) => ({ label: item.label, stepScores: scores.scores[index]![0]! })) },
      "gsm8k",
    );
    expect(results.processBench.subsets.gsm8k!.f1).toBeCloseTo(expected.subsets.gsm8k!.f1, 12);
  });
});

describe("pqm train --backbone hf://", () => {
  it("downloads a sharded backbone folder from the Hub and trains on it", async () => {
    // The backbone: the trained checkpoint's files, its weights split into two shards with an index.
    const source = join(run(), "checkpoint-000006");
    const weights = await readSafetensorsFile(join(source, "model.safetensors"));
    const names = [...weights.entries.keys()];
    const shards = [names.slice(0, 3), names.slice(3)];
    const hub = await startLoopbackHub();
    const weightMap: Record<string, string> = {};
    shards.forEach((shardNames, index) => {
      const shard = `model-0000${index + 1}-of-00002.safetensors`;
      const tensors = new Map<string, Float32TensorData>();
      for (const name of shardNames) {
        tensors.set(name, { shape: weights.entries.get(name)!.shape, data: weights.float32(name) });
        weightMap[name] = shard;
      }
      // Weights are LFS files on the Hub: a redirect to another origin and a sha256 check.
      hub.addFile("pqm-test/tiny", shard, Buffer.from(serializeSafetensors(tensors, { format: "pt" })), {
        lfs: true,
      });
    });
    hub.addFile("pqm-test/tiny", "model.safetensors.index.json", JSON.stringify({ weight_map: weightMap }));
    for (const name of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
      hub.addFile("pqm-test/tiny", name, await readFile(join(source, name)));
    }
    try {
      const result = await runCli(
        [
          "train",
          ...["--train", join(configFolder, "train.jsonl"), "--backbone", "hf://pqm-test/tiny"],
          ...["--template", "plain", "--steps", "1", "--batch-size", "8", "--out", join(folder, "run-hub")],
          "--json",
        ],
        { env: { HF_ENDPOINT: hub.endpoint, HF_HOME: join(folder, "hf-home"), HF_TOKEN: "" } },
      );
      expect(result.exitCode, result.stderr).toBe(0);
      const summary = JSON.parse(result.stdout) as TrainJson;
      expect(summary.model.backbone).toBe("hf://pqm-test/tiny");
      expect(summary.steps).toBe(1);
      expect(existsSync(join(summary.checkpoint, "model.safetensors"))).toBe(true);
      const fetched = hub.requests
        .filter((request) => request.method === "GET")
        .map((request) => request.path);
      for (const shard of ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]) {
        expect(fetched.some((path) => path.endsWith(shard))).toBe(true);
      }
    } finally {
      await hub.close();
    }
  });
});
