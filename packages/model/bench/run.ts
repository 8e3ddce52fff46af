// `pnpm bench` for @pqm/model: the PRM training step and the scoring pass against the PyTorch peer
// (../shared/bench/torch-peer), side by side on this machine, plus the correctness checks that keep the
// speed honest.
//
//   node --import tsx bench/run.ts [--configs S,M,L] [--threads 1,2] [--rounds 2]
//                                  [--backend auto|wasm|cpu|tensorflow|tensorflow-gpu] [--no-peer]
//                                  [--peer-default] [--decoder-pass auto|tfjs|onnxruntime]
//                                  [--leak-steps 1000] [--out bench/results]
//
// 1. Loss agreement: 20 training steps of the S architecture (batch 4, sequence 64) from the same
//    initial weights and batches on every backend that starts here (cpu, wasm with each thread count,
//    tfjs-node(-gpu) when installed); the losses must agree within a tolerance.
// 2. Leaks: 1,000 steps of `trainPrm` (the real loop, with validation and checkpoints) on the chosen
//    backend; the live tensor count after each step must stay flat.
// 3. Speed: for each configuration and thread count, `--rounds` rounds; each round runs, in
//    alternating order, (a) the project's training step and TF.js scoring pass, (b) ONNX Runtime
//    scoring of the same model exported to ONNX, (c) the peer. Every process is a child measured the
//    same way: medians of its timed steps after warm-up, and its peak resident memory from
//    `/usr/bin/time -v`. Reported: the median over rounds, and ratios project/peer at equal threads.
//    The peer runs with the set-up `bench/peer-tune.ts` found best for this CPU model, configuration,
//    thread count and metric (bench/results/peer-setup.json): when the best set-up for scoring differs
//    from the one for training, the peer runs once with each and each figure comes from its own run.
//    Without a tuned set-up for this CPU, or with --peer-default, it runs with the system default.
// The project's training step runs on ONNX Runtime where it can (`--decoder-pass auto`, trainPrm's
// default: the wasm backend with onnxruntime-node): with the pqm loss, as trainPrm does, the decoder, the
// value head and the loss with their gradients are one ONNX Runtime run; else TF.js's own gradients
// (`--decoder-pass tfjs`). Clipping and AdamW run in TF.js either way.
// Writes <out>/prm.json and <out>/prm.md (the table the README shows).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ArithEnvironment } from "@pqm/data";
import * as tf from "@tensorflow/tfjs-core";
import { decoderOnnxBytes } from "../src/onnx/export-onnx.js";
import { OnnxDecoderSession } from "../src/onnx/onnx-decoder-session.js";
import { OnnxDecoderTrainer } from "../src/onnx/onnx-training-step.js";
import { ProcessRewardModel } from "../src/prm/process-reward-model.js";
import {
  type BackendChoice,
  selectBackend,
  type WasmMatMulChoice,
} from "../src/tfjs-backends/select-backend.js";
import { buildWordTokenizer } from "../src/tokenizer/builtin-tokenizer.js";
import { trainPrm } from "../src/training/train-prm.js";
import { argument } from "./bench-args.js";
import {
  bestPeerSetup,
  CONFIGS,
  type ConfigName,
  cpuIdentity,
  type MeasuredRun,
  measureProcess,
  median,
  PEER_SETUP_FILE,
  type PeerSetup,
  peerCommand,
  peerEnv,
  peerUnavailableReason,
  probeOpenBlas,
} from "./peer-configs.js";
import { createStepHarness, makeBatches, type StepHarness, TAGS_PER_SEQUENCE } from "./prm-step.js";

const here = dirname(fileURLToPath(import.meta.url));
const AGREEMENT_STEPS = 20;
/** Largest |loss difference| allowed after 20 steps, relative to the reference loss. */
const AGREEMENT_TOLERANCE = 2e-3;

function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

type BackendFlag = BackendChoice | "auto";

function matmulFlag(): WasmMatMulChoice {
  const value = argument("--matmul") ?? "auto";
  if (value !== "auto" && value !== "onnxruntime" && value !== "wasm")
    throw new Error(`--matmul must be auto, onnxruntime or wasm, got ${value}`);
  return value;
}

async function startBackend(flag: BackendFlag, threads: number) {
  return selectBackend({
    backend: flag === "auto" ? undefined : flag,
    threads,
    matmul: matmulFlag(),
  });
}

type DecoderPassFlag = "auto" | "tfjs" | "onnxruntime";

function decoderPassFlag(): DecoderPassFlag {
  const value = argument("--decoder-pass") ?? "auto";
  if (value !== "auto" && value !== "tfjs" && value !== "onnxruntime")
    throw new Error(`--decoder-pass must be auto, tfjs or onnxruntime, got ${value}`);
  return value;
}

/**
 * The decoder pass of a training child: ONNX Runtime's (as trainPrm's `decoderPass`), or null for
 * TF.js's gradients. @throws when `--decoder-pass onnxruntime` cannot run.
 */
async function openTrainer(harness: StepHarness, threads: number): Promise<OnnxDecoderTrainer | null> {
  const flag = decoderPassFlag();
  if (flag === "tfjs") return null;
  const reason = OnnxDecoderTrainer.unsupportedReason(harness.backbone);
  if (reason !== null) {
    if (flag === "onnxruntime") throw new Error(`--decoder-pass onnxruntime: ${reason}`);
    return null;
  }
  try {
    // As trainPrm with the pqm loss: the whole step (decoder, value head, loss) as one ONNX Runtime run.
    const trainer = await OnnxDecoderTrainer.create(harness.backbone, {
      threads,
      spinning: threads === 1,
      pqmLoss: { zeta: 4 },
    });
    harness.useTrainer(trainer);
    return trainer;
  } catch (error) {
    if (flag === "onnxruntime") throw error;
    return null;
  }
}

/** The engine's name in reports: the TF.js backend, who does its matrix products, and the decoder pass. */
function engineName(selection: { tfBackend: string; matmul: string }, onnxPass = false): string {
  if (onnxPass) return `onnxruntime-step+tfjs-${selection.tfBackend}`;
  return `tfjs-${selection.tfBackend}${selection.matmul === "onnxruntime" ? "+onnxruntime-matmul" : ""}`;
}

// ---------------------------------------------------------------------------------------------------
// Children: each prints one JSON line on standard output.

/** Training step and TF.js scoring pass of one configuration. */
async function trainChild(name: ConfigName, backend: BackendFlag, threads: number) {
  const selection = await startBackend(backend, threads);
  // L's batch-4 TF.js tape does not fit wasm's 4 GiB heap (the step fails with "memory access out of
  // bounds"): accumulate 4 micro-batches of 1 row, the same gradient, on wasm and cpu. The ONNX Runtime
  // pass keeps only the activations its backward reads, and takes the whole batch.
  const onnxPassPossible = decoderPassFlag() !== "tfjs" && selection.tfBackend === "wasm";
  const microBatches = name === "L" && selection.tfBackend !== "tensorflow" && !onnxPassPossible ? 4 : 1;
  const harness = createStepHarness(name, {}, { microBatches });
  const trainer = await openTrainer(harness, selection.threads);
  const warmup = name === "L" ? 1 : 2;
  const measured = name === "L" ? 3 : 5;
  const trainTimes: number[] = [];
  const losses: number[] = [];
  for (let index = 0; index < warmup + measured; index++) {
    process.stderr.write(`bench: ${name} training step ${index + 1}/${warmup + measured}\r`);
    const start = performance.now();
    losses.push(await harness.train(index));
    if (index >= warmup) trainTimes.push(performance.now() - start);
  }
  const scoreTimes: number[] = [];
  for (let index = 0; index < warmup + measured; index++) {
    const start = performance.now();
    await harness.score(index);
    if (index >= warmup) scoreTimes.push(performance.now() - start);
  }
  const tokens = harness.shape.batch * harness.shape.seq;
  const trainMs = median(trainTimes);
  const scoreMs = median(scoreTimes);
  trainer?.dispose();
  return {
    engine: engineName(selection, trainer !== null),
    backend: selection.backend,
    threads: selection.threads,
    config: name,
    microBatches,
    parameters: harness.parameters,
    trainMs: round(trainMs, 1),
    trainTokensPerSecond: Math.round(tokens / (trainMs / 1000)),
    scoreMs: round(scoreMs, 1),
    scoreTokensPerSecond: Math.round(tokens / (scoreMs / 1000)),
    losses: losses.map((value) => round(value, 5)),
  };
}

/** ONNX Runtime scoring of the same model, exported from TF.js (wasm, 1 thread, builds it). */
async function onnxChild(name: ConfigName, threads: number) {
  await selectBackend({ backend: "wasm", threads: 1, matmul: "wasm" });
  const harness = createStepHarness(name);
  const shape = harness.shape;
  const tokens = shape.batch * shape.seq;
  const { backbone, head } = harness;
  const exportStart = performance.now();
  const { bytes } = decoderOnnxBytes(backbone, {
    weight: Float32Array.from(head.weight.dataSync()),
    bias: head.bias.dataSync()[0]!,
  });
  const exportMs = performance.now() - exportStart;
  const session = await OnnxDecoderSession.open(bytes, { threads });
  const batches = makeBatches(shape, 3).map((batch) => {
    const ids = batch.inputIds.dataSync() as Int32Array;
    const tags = batch.tagPositions.dataSync() as Int32Array;
    tf.dispose([batch.inputIds, batch.tagPositions, batch.labels]);
    return { ids, tags };
  });
  const mask = new Int32Array(tokens).fill(1);
  const score = async (index: number): Promise<Float32Array> => {
    const batch = batches[index % batches.length]!;
    const { values } = await session.run(
      { batch: shape.batch, sequence: shape.seq, inputIds: batch.ids, attentionMask: mask },
      ["values"],
    );
    const out = new Float32Array(batch.tags.length);
    for (let row = 0; row < shape.batch; row++) {
      for (let step = 0; step < TAGS_PER_SEQUENCE; step++) {
        const slot = row * TAGS_PER_SEQUENCE + step;
        out[slot] = values.data[row * shape.seq + batch.tags[slot]!]!;
      }
    }
    return out;
  };
  const reference = await harness.score(0);
  const first = await score(0);
  let maxAbsDifference = 0;
  for (let index = 0; index < first.length; index++)
    maxAbsDifference = Math.max(maxAbsDifference, Math.abs(first[index]! - reference[index]!));
  const warmup = 3;
  const measured = name === "L" ? 5 : 10;
  const times: number[] = [];
  for (let index = 0; index < warmup + measured; index++) {
    const start = performance.now();
    await score(index);
    if (index >= warmup) times.push(performance.now() - start);
  }
  await session.release();
  const ms = median(times);
  return {
    engine: "onnxruntime",
    threads,
    config: name,
    scoreMs: round(ms, 1),
    scoreTokensPerSecond: Math.round(tokens / (ms / 1000)),
    maxAbsDifferenceVsTfjs: maxAbsDifference,
    exportMs: Math.round(exportMs),
    onnxBytes: bytes.byteLength,
  };
}

/** 20 training steps of S's architecture on a small batch, from the same weights and data. */
async function agreeChild(backend: BackendFlag, threads: number) {
  const selection = await startBackend(backend, threads);
  const harness = createStepHarness("S", { batch: 4, seq: 64 });
  const trainer = await openTrainer(harness, selection.threads);
  const losses: number[] = [];
  for (let index = 0; index < AGREEMENT_STEPS; index++) losses.push(await harness.train(index));
  const scores = await harness.score(0);
  trainer?.dispose();
  return {
    backend: selection.backend,
    engine: engineName(selection, trainer !== null),
    threads: selection.threads,
    losses,
    scoresAfter: Array.from(scores.slice(0, 8)),
  };
}

/** `trainPrm` for `steps` steps; the live tensor count after every step. */
async function leakChild(backend: BackendFlag, threads: number, steps: number) {
  const selection = await startBackend(backend, threads);
  const environment = new ArithEnvironment({ seed: 0 });
  const corpus = environment.exactTrainingCorpus({ questions: 200, samplesPerQuestion: 4 });
  const tokenizer = buildWordTokenizer(corpus.map((t) => `${t.question.text} ${t.steps.join(" ")}`));
  // One small layer: the check is about the loop's bookkeeping, and 1,000 steps should take a minute.
  const model = ProcessRewardModel.fromScratch(
    {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
    },
    tokenizer,
    { seed: 0 },
  );
  const outputDir = mkdtempSync(join(os.tmpdir(), "pqm-leaks-"));
  const counts: number[] = [];
  const bytes: number[] = [];
  const started = performance.now();
  let onnxPass = false;
  try {
    const result = await trainPrm({
      model,
      train: corpus,
      config: {
        loss: "pqm",
        learningRate: 2e-3,
        batchSize: 8,
        maxSteps: steps,
        evalEvery: Math.max(1, Math.floor(steps / 4)),
        checkpointEvery: Math.max(1, Math.floor(steps / 2)),
      },
      run: {
        outputDir,
        onStep: (record) => {
          counts.push(tf.memory().numTensors);
          bytes.push(tf.memory().numBytes);
          if (record.step % 100 === 0)
            process.stderr.write(`bench: leak check step ${record.step}/${steps}\r`);
        },
      },
    });
    onnxPass = result.decoderPass === "onnxruntime";
  } finally {
    model.dispose();
    rmSync(outputDir, { recursive: true, force: true });
  }
  const afterFirst = counts.slice(1);
  return {
    engine: engineName(selection, onnxPass),
    threads: selection.threads,
    steps: counts.length,
    liveTensorsAfterStep1: counts[0],
    liveTensorsMin: Math.min(...afterFirst),
    liveTensorsMax: Math.max(...afterFirst),
    liveTensorsLast: counts.at(-1),
    bytesMin: Math.min(...bytes.slice(1)),
    bytesMax: Math.max(...bytes.slice(1)),
    flat: new Set(afterFirst).size === 1,
    seconds: round((performance.now() - started) / 1000, 1),
  };
}

// ---------------------------------------------------------------------------------------------------
// The parent.

interface SpeedRow {
  config: ConfigName;
  threads: number;
  trainTokensPerSecond: number | null;
  tfjsScoreTokensPerSecond: number | null;
  onnxScoreTokensPerSecond: number | null;
  peerTrainTokensPerSecond: number | null;
  peerScoreTokensPerSecond: number | null;
  trainRatio: number | null;
  tfjsScoreRatio: number | null;
  onnxScoreRatio: number | null;
  peakRssMiB: number | null;
  onnxPeakRssMiB: number | null;
  peerPeakRssMiB: number | null;
  memoryRatio: number | null;
  rounds: number;
  /** The peer's set-up behind its training figure (and peak memory), and behind its scoring figure. */
  peerTrainSetup?: PeerSetupUsed | null;
  peerScoreSetup?: PeerSetupUsed | null;
}

/** A set-up the peer ran with: a tuned one from peer-setup.json, or the system default (no variables). */
interface PeerSetupUsed extends PeerSetup {
  tuned: boolean;
}

/** One line per row naming the peer's set-ups, or one line saying that the system default ran. */
function peerSetupLines(rows: SpeedRow[], peerSetupNote: string | null): string[] {
  const words = (setup: PeerSetupUsed) =>
    setup.tuned
      ? `${Object.entries(setup.env)
          .map(([key, value]) => `${key}=${value}`)
          .join(" ")} (kernel ${setup.corename ?? "?"})`
      : `system default (kernel ${setup.corename ?? "?"})`;
  const described = rows.filter((row) => row.peerTrainSetup);
  if (described.length === 0) return [];
  const lines = peerSetupNote === null ? [] : [`Peer set-up: ${peerSetupNote}.`];
  if (described.some((row) => row.peerTrainSetup?.tuned || row.peerScoreSetup?.tuned)) {
    lines.push(
      "Peer set-ups (bench/peer-tune.ts's best for this CPU, per configuration, threads and metric):",
      ...described.map((row) => {
        const train = row.peerTrainSetup!;
        const score = row.peerScoreSetup ?? train;
        return train.id === score.id
          ? `- ${row.config}/${row.threads}: training and scoring \`${words(train)}\``
          : `- ${row.config}/${row.threads}: training \`${words(train)}\`; scoring (a second run) \`${words(score)}\``;
      }),
    );
  }
  return lines;
}

function childCommand(...flags: (string | number)[]): string[] {
  return [process.execPath, "--import", "tsx", join(here, "run.ts"), "--child", ...flags.map(String)];
}

const medianOf = (values: (number | null | undefined)[]): number | null => {
  const present = values.filter((value): value is number => typeof value === "number");
  return present.length === 0 ? null : median(present);
};

const ratio = (ours: number | null, theirs: number | null): number | null =>
  ours === null || theirs === null || theirs === 0 ? null : round(ours / theirs);

async function main(): Promise<void> {
  const childMode = argument("--child");
  const backendFlag = (argument("--backend") ?? "auto") as BackendFlag;
  if (childMode !== undefined) {
    const threads = Number(argument("--threads") ?? 1);
    const name = argument("--config") as ConfigName;
    const result =
      childMode === "train"
        ? await trainChild(name, backendFlag, threads)
        : childMode === "onnx"
          ? await onnxChild(name, threads)
          : childMode === "agree"
            ? await agreeChild(backendFlag, threads)
            : await leakChild(backendFlag, threads, Number(argument("--steps") ?? 1000));
    // Exit explicitly: wasm pthread workers (2-thread runs) can keep the process alive.
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    return;
  }

  const renderFrom = argument("--render");
  if (renderFrom !== undefined) {
    // Rewrites prm.md next to a prm.json (after a change to the table's layout), without measuring.
    const saved = JSON.parse(readFileSync(renderFrom, "utf8")) as {
      machine: { cpu: string; logicalCores: number; node: string };
      backend: { engine: string };
      command: string;
      speed: SpeedRow[];
      agreement: {
        runs: { engine: string; threads: number; maxRelativeDifference: number; agrees: boolean }[];
      };
      leaks: Record<string, unknown>;
      peer: { status: string; setups?: { note: string | null } | null };
      failures?: string[];
      time: string;
    };
    const markdown = renderMarkdown(
      saved.machine,
      saved.backend.engine,
      saved.command,
      saved.speed,
      saved.agreement.runs,
      saved.leaks,
      saved.peer.status === "measured in this run" ? null : saved.peer.status,
      saved.failures ?? [],
      saved.time,
      saved.peer.setups?.note ?? null,
    );
    writeFileSync(join(dirname(renderFrom), "prm.md"), markdown);
    process.stdout.write(markdown);
    return;
  }
  const configs = (argument("--configs") ?? "S,M,L").split(",").map((name) => {
    if (!(name in CONFIGS)) throw new Error(`--configs: unknown configuration ${name} (S, M or L)`);
    return name as ConfigName;
  });
  const threadCounts = (argument("--threads") ?? "1,2").split(",").map(Number);
  const rounds = Number(argument("--rounds") ?? 2);
  const leakSteps = Number(argument("--leak-steps") ?? 1000);
  const outDir = resolve(argument("--out") ?? join(here, "results"));
  const peerReason = process.argv.includes("--no-peer") ? "--no-peer given" : peerUnavailableReason();
  const started = Date.now();
  // The peer's set-up: the tuner's winner for this CPU where peer-setup.json has one.
  const peerDefault = process.argv.includes("--peer-default");
  const cpu = cpuIdentity();
  const corenames = new Map<string, string | null>();
  const peerSetupFor = (name: ConfigName, threads: number, metric: "train" | "score"): PeerSetupUsed => {
    const tuned = peerDefault
      ? undefined
      : bestPeerSetup(cpu.model, name, threads, metric, { flags: cpu.flags });
    const corename = (setup: PeerSetup): string | null => {
      // The kernel set OpenBLAS picks under this set-up, asked now rather than taken from the file;
      // null when OpenBLAS cannot start under it (a build missing here, a kernel this CPU cannot run).
      if (!corenames.has(setup.id)) {
        const probe = probeOpenBlas({
          ...peerEnv(setup),
          OMP_NUM_THREADS: String(threads),
          OPENBLAS_NUM_THREADS: String(threads),
        });
        corenames.set(setup.id, "error" in probe ? null : probe.corename);
      }
      return corenames.get(setup.id) ?? null;
    };
    const system: PeerSetup = { id: "system-default", env: {} };
    if (tuned !== undefined) {
      const kernel = corename(tuned);
      if (kernel !== null) return { id: tuned.id, env: tuned.env, corename: kernel, tuned: true };
      process.stderr.write(`bench: the tuned peer set-up ${tuned.id} does not start here; system default\n`);
    }
    return { ...system, corename: corename(system) ?? undefined, tuned: false };
  };
  const untuned = configs.flatMap((name) =>
    threadCounts
      .filter((threads) => !bestPeerSetup(cpu.model, name, threads, "train", { flags: cpu.flags }))
      .map((threads) => `${name}/${threads}`),
  );
  const peerSetupNote = peerDefault
    ? "--peer-default given: the peer ran with the system default (no tuned set-up)"
    : untuned.length === 0
      ? null
      : untuned.length === configs.length * threadCounts.length
        ? `no tuned set-up exists for this CPU (${cpu.model}; flags ${cpu.flags.join(" ")}) in bench/results/peer-setup.json, so the peer ran with the system default (run bench/peer-tune.ts to tune it)`
        : `bench/results/peer-setup.json has no tuned set-up for this CPU (${cpu.model}) for ${untuned.join(", ")}: those ran with the system default`;

  // Which backend the speed runs use (the child decides for "auto"; ask one quickly).
  const probe = await startBackend(backendFlag, 1);
  const native = probe.tfBackend === "tensorflow";
  process.stderr.write(
    `bench: ${engineName(probe)}${native ? "" : `, threads ${threadCounts.join(",")}`}; peer: ${peerReason ?? "PyTorch in the same run"}\n`,
  );

  // 1. Loss agreement across backends.
  const agreementBackends: {
    backend: BackendFlag;
    threads: number;
    matmul: WasmMatMulChoice;
    pass: DecoderPassFlag;
  }[] = [
    { backend: "cpu", threads: 1, matmul: "wasm", pass: "tfjs" },
    ...threadCounts.map((threads) => ({
      backend: "wasm" as const,
      threads,
      matmul: "wasm" as const,
      pass: "tfjs" as const,
    })),
    ...threadCounts.map((threads) => ({
      backend: "wasm" as const,
      threads,
      matmul: "onnxruntime" as const,
      pass: "tfjs" as const,
    })),
    ...threadCounts.map((threads) => ({
      backend: "wasm" as const,
      threads,
      matmul: "onnxruntime" as const,
      pass: "onnxruntime" as const,
    })),
  ];
  if (native) agreementBackends.push({ backend: probe.backend, threads: 1, matmul: "auto", pass: "tfjs" });
  const agreementRuns: { engine: string; threads: number; losses: number[] }[] = [];
  for (const entry of agreementBackends) {
    process.stderr.write(
      `bench: loss agreement, ${entry.backend} ${entry.threads} thread(s), matmul ${entry.matmul}, decoder pass ${entry.pass}...\n`,
    );
    try {
      const run = await measureProcess(
        childCommand(
          "agree",
          "--backend",
          entry.backend,
          "--threads",
          entry.threads,
          "--matmul",
          entry.matmul,
          "--decoder-pass",
          entry.pass,
        ),
      );
      agreementRuns.push(run.result as { engine: string; threads: number; losses: number[] });
    } catch (error) {
      // onnxruntime-node missing: that engine is simply not compared.
      process.stderr.write(`  skipped: ${(error as Error).message.split("\n")[0]}\n`);
    }
  }
  const reference = agreementRuns[0]!;
  const agreement = {
    steps: AGREEMENT_STEPS,
    workload:
      "S architecture, batch 4, sequence 64, PQM loss, AdamW lr 1e-4, clip 1.0, same weights and batches",
    tolerance: `|loss - reference| <= ${AGREEMENT_TOLERANCE} x |reference loss| at every step`,
    reference: `${reference.engine}/${reference.threads}`,
    runs: agreementRuns.map((run) => {
      const worst = Math.max(
        ...run.losses.map(
          (loss, step) => Math.abs(loss - reference.losses[step]!) / Math.abs(reference.losses[step]!),
        ),
      );
      return {
        engine: run.engine,
        threads: run.threads,
        lossFirst: run.losses[0],
        lossAfter20: run.losses.at(-1),
        maxRelativeDifference: worst,
        agrees: worst <= AGREEMENT_TOLERANCE,
      };
    }),
  };
  for (const run of agreement.runs) process.stderr.write(`  ${JSON.stringify(run)}\n`);

  // 2. Leaks over the real training loop.
  process.stderr.write(`bench: leak check, ${leakSteps} steps of trainPrm on ${probe.backend}...\n`);
  const leaks = (
    await measureProcess(
      childCommand(
        "leaks",
        ...[
          "--backend",
          probe.backend,
          "--threads",
          threadCounts[0]!,
          "--steps",
          leakSteps,
          "--matmul",
          matmulFlag(),
        ],
      ),
    )
  ).result;
  process.stderr.write(`  ${JSON.stringify(leaks)}\n`);

  // 3. Speed, alternating with the peer.
  const projectRuns: (MeasuredRun & { round: number })[] = [];
  const onnxRuns: (MeasuredRun & { round: number })[] = [];
  const peerRuns: (MeasuredRun & {
    round: number;
    role: "both" | "train" | "score";
    setup: PeerSetupUsed;
  })[] = [];
  const rows: SpeedRow[] = [];
  const failures: string[] = [];
  /** Runs one measured child; a failure is recorded and the benchmark goes on. */
  const attempt = async (label: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      const message = `${label}: ${(error as Error).message}`;
      failures.push(message);
      process.stderr.write(`  FAILED ${message}\n`);
    }
  };
  for (const name of configs) {
    for (const threads of threadCounts) {
      for (let roundIndex = 0; roundIndex < rounds; roundIndex++) {
        const jobs: (() => Promise<void>)[] = [
          () =>
            attempt(`${name} ${probe.backend} ${threads} thread(s) round ${roundIndex + 1}`, async () => {
              // A native backend has its own thread pool: run it once per round, at the first thread count.
              if (native && threads !== threadCounts[0]) return;
              process.stderr.write(
                `bench: ${name}, ${probe.backend}, ${threads} thread(s), round ${roundIndex + 1}...\n`,
              );
              const run = await measureProcess(
                childCommand(
                  "train",
                  "--config",
                  name,
                  "--backend",
                  probe.backend,
                  "--threads",
                  threads,
                  "--matmul",
                  matmulFlag(),
                  "--decoder-pass",
                  decoderPassFlag(),
                ),
              );
              projectRuns.push({ ...run, round: roundIndex });
              process.stderr.write(
                `  ${JSON.stringify({ ...run.result, losses: undefined, peakRssMiB: run.peakRssMiB })}\n`,
              );
            }),
          () =>
            attempt(`${name} onnxruntime ${threads} thread(s) round ${roundIndex + 1}`, async () => {
              process.stderr.write(
                `bench: ${name}, onnxruntime, ${threads} thread(s), round ${roundIndex + 1}...\n`,
              );
              const run = await measureProcess(childCommand("onnx", "--config", name, "--threads", threads));
              onnxRuns.push({ ...run, round: roundIndex });
              process.stderr.write(`  ${JSON.stringify({ ...run.result, peakRssMiB: run.peakRssMiB })}\n`);
            }),
          () =>
            attempt(`${name} PyTorch peer ${threads} thread(s) round ${roundIndex + 1}`, async () => {
              if (peerReason !== null) return;
              // The best set-up for each metric: one run when they agree, else one run for each.
              const trainSetup = peerSetupFor(name, threads, "train");
              const scoreSetup = peerSetupFor(name, threads, "score");
              const runs =
                trainSetup.id === scoreSetup.id
                  ? [{ role: "both" as const, setup: trainSetup }]
                  : [
                      { role: "train" as const, setup: trainSetup },
                      { role: "score" as const, setup: scoreSetup },
                    ];
              for (const { role, setup } of runs) {
                process.stderr.write(
                  `bench: ${name}, PyTorch peer, ${threads} thread(s), round ${roundIndex + 1}, ${role === "both" ? "" : `for ${role === "train" ? "training" : "scoring"}, `}set-up ${setup.id} (kernel ${setup.corename ?? "?"})...\n`,
                );
                const run = await measureProcess(peerCommand(name, threads), { env: peerEnv(setup) });
                peerRuns.push({ ...run, round: roundIndex, role, setup });
                process.stderr.write(
                  `  ${JSON.stringify({ train_tokens_per_s: run.result.train_tokens_per_s, score_tokens_per_s: run.result.score_tokens_per_s, peakRssMiB: run.peakRssMiB, load: run.result.load_train })}\n`,
                );
              }
            }),
        ];
        // Alternate the order so that drift in the machine's load does not favor one side.
        if (roundIndex % 2 === 1) jobs.reverse();
        for (const job of jobs) await job();
      }
      const mine = projectRuns.filter(
        (run) => run.result.config === name && (native || run.result.threads === threads),
      );
      const onnx = onnxRuns.filter((run) => run.result.config === name && run.result.threads === threads);
      const peer = peerRuns.filter((run) => run.result.tag === name && run.result.threads === threads);
      const peerForTrain = peer.filter((run) => run.role !== "score");
      const peerForScore = peer.filter((run) => run.role !== "train");
      const train = medianOf(mine.map((run) => run.result.trainTokensPerSecond as number));
      const tfjsScore = medianOf(mine.map((run) => run.result.scoreTokensPerSecond as number));
      const onnxScore = medianOf(onnx.map((run) => run.result.scoreTokensPerSecond as number));
      const peerTrain = medianOf(peerForTrain.map((run) => run.result.train_tokens_per_s as number));
      const peerScore = medianOf(peerForScore.map((run) => run.result.score_tokens_per_s as number));
      const rss = medianOf(mine.map((run) => run.peakRssMiB));
      const peerRss = medianOf(peerForTrain.map((run) => run.peakRssMiB));
      rows.push({
        config: name,
        threads,
        trainTokensPerSecond: train,
        tfjsScoreTokensPerSecond: tfjsScore,
        onnxScoreTokensPerSecond: onnxScore,
        peerTrainTokensPerSecond: peerTrain,
        peerScoreTokensPerSecond: peerScore,
        trainRatio: ratio(train, peerTrain),
        tfjsScoreRatio: ratio(tfjsScore, peerScore),
        onnxScoreRatio: ratio(onnxScore, peerScore),
        peakRssMiB: rss,
        onnxPeakRssMiB: medianOf(onnx.map((run) => run.peakRssMiB)),
        peerPeakRssMiB: peerRss,
        memoryRatio: ratio(rss, peerRss),
        rounds,
        peerTrainSetup: peerForTrain[0]?.setup ?? null,
        peerScoreSetup: peerForScore[0]?.setup ?? null,
      });
      process.stderr.write(`  => ${JSON.stringify(rows.at(-1))}\n`);
    }
  }

  const command =
    `cd packages/model && node --import tsx bench/run.ts ${process.argv.slice(2).join(" ")}`.trim();
  // The engine the training runs used (the decoder pass is chosen in each child).
  const projectEngine =
    (projectRuns[0]?.result as { engine?: string } | undefined)?.engine ?? engineName(probe);
  const report = {
    bench: "pqm-model-prm",
    command,
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      logicalCores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadAverageAtEnd: os.loadavg().map((value) => round(value, 2)),
      node: process.versions.node,
    },
    backend: { chosen: probe.backend, engine: projectEngine, skipped: probe.skipped },
    versions: { "@tensorflow/tfjs-core": tf.version_core, "onnxruntime-node": "1.30.0" },
    workload: `training: forward + PQM loss (zeta 4) + backward + global-norm clip 1.0 + dense AdamW (lr 1e-4), ${TAGS_PER_SEQUENCE} step tags per sequence, random tokens, monotone labels; scoring: forward + value head. Medians of timed steps after warm-up (project S/M: 2 warm-up + 5 timed, L: 1 + 3; ONNX 3 + 10 (L 3 + 5); the peer 3 + 10), then the median over ${rounds} alternating rounds. Peak memory: maximum resident set size of each whole process by ${projectRuns[0]?.memoryMethod ?? "/usr/bin/time -v"}.`,
    peer: {
      status: peerReason ?? "measured in this run",
      command:
        peerReason === null
          ? `${peerCommand("M", 1).slice(0, 2).join(" ")} <configuration flags> --threads N --steps 10 --warmup 3`
          : null,
      torch: peerRuns[0]?.result.torch ?? null,
      blas: peerRuns[0]?.result.blas_libs ?? null,
      setups:
        peerReason === null
          ? {
              source: peerDefault ? "--peer-default given" : PEER_SETUP_FILE,
              cpuModel: cpu.model,
              cpuFlags: cpu.flags,
              note: peerSetupNote,
            }
          : null,
    },
    agreement,
    leaks,
    speed: rows,
    failures,
    runs: {
      project: projectRuns.map(({ result, peakRssMiB, wallSeconds, round: r }) => ({
        round: r,
        ...result,
        peakRssMiB,
        wallSeconds,
      })),
      onnx: onnxRuns.map(({ result, peakRssMiB, wallSeconds, round: r }) => ({
        round: r,
        ...result,
        peakRssMiB,
        wallSeconds,
      })),
      peer: peerRuns.map(({ result, peakRssMiB, wallSeconds, round: r, role, setup }) => ({
        round: r,
        tag: result.tag,
        threads: result.threads,
        role,
        setup,
        blas_libs: result.blas_libs,
        train_tokens_per_s: result.train_tokens_per_s,
        score_tokens_per_s: result.score_tokens_per_s,
        load_train: result.load_train,
        load_score: result.load_score,
        loss_first: result.loss_first,
        peakRssMiB,
        wallSeconds,
      })),
    },
    minutes: round((Date.now() - started) / 60000, 1),
    time: new Date().toISOString(),
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "prm.json"), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = renderMarkdown(
    report.machine,
    projectEngine,
    command,
    rows,
    agreement.runs,
    leaks,
    peerReason,
    failures,
    undefined,
    peerSetupNote,
  );
  writeFileSync(join(outDir, "prm.md"), markdown);
  process.stderr.write(`\n${markdown}\nbench: wrote ${join(outDir, "prm.json")} and prm.md\n`);
  const problems = [
    ...failures,
    ...agreement.runs
      .filter((run) => !run.agrees)
      .map((run) => `losses on ${run.engine}/${run.threads} disagree`),
    ...(leaks.flat === true ? [] : ["the live tensor count grew during training"]),
  ];
  if (problems.length > 0) {
    process.stderr.write(`bench: FAILED: ${problems.join("; ")}\n`);
    process.exitCode = 1;
  }
}

function renderMarkdown(
  machine: { cpu: string; logicalCores: number; node: string },
  backend: string,
  command: string,
  rows: SpeedRow[],
  agreement: { engine: string; threads: number; maxRelativeDifference: number; agrees: boolean }[],
  leaks: Record<string, unknown>,
  peerReason: string | null,
  failures: string[],
  time: string = new Date().toISOString(),
  peerSetupNote: string | null = null,
): string {
  const cell = (value: number | null) => (value === null ? "n/a" : Math.round(value).toLocaleString("en-US"));
  const times = (value: number | null) => (value === null ? "n/a" : `${value.toFixed(2)}x`);
  const lines = [
    `Machine: ${machine.cpu}, ${machine.logicalCores} logical cores, Node ${machine.node}; backend ${backend}; peer: ${peerReason ?? "PyTorch (Debian 1.13, OpenBLAS), same run, alternating"}.`,
    `Command: \`${command}\`. ${time.slice(0, 10)}.`,
    "",
    "| config | threads | train tokens/s | peer | ratio | score tokens/s, TF.js | ONNX | peer | ONNX / peer | peak RSS MiB | peer | ratio |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.config} | ${row.threads} | ${cell(row.trainTokensPerSecond)} | ${cell(row.peerTrainTokensPerSecond)} | **${times(row.trainRatio)}** | ${cell(row.tfjsScoreTokensPerSecond)} | ${cell(row.onnxScoreTokensPerSecond)} | ${cell(row.peerScoreTokensPerSecond)} | **${times(row.onnxScoreRatio)}** | ${cell(row.peakRssMiB)} | ${cell(row.peerPeakRssMiB)} | **${times(row.memoryRatio)}** |`,
    ),
    "",
    ...peerSetupLines(rows, peerSetupNote),
    `Loss agreement after ${AGREEMENT_STEPS} steps (relative to ${agreement[0]?.engine}/${agreement[0]?.threads}): ${agreement
      .map(
        (run) =>
          `${run.engine}/${run.threads} ${run.maxRelativeDifference.toExponential(1)}${run.agrees ? "" : " FAIL"}`,
      )
      .join(", ")} (tolerance ${AGREEMENT_TOLERANCE}).`,
    ...failures.map((failure) => `Failed: ${failure.split("\n").join(" / ")}`),
    `Leaks: ${String(leaks.steps)} trainPrm steps on ${String(leaks.engine)}, live tensors ${String(leaks.liveTensorsMin)}-${String(leaks.liveTensorsMax)} after step 1 (${leaks.flat === true ? "flat" : "GROWING"}).`,
    "",
  ];
  return lines.join("\n");
}

await main();
