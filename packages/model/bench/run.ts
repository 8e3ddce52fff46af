// PRM training and scoring benchmark against the PyTorch peer (../shared/bench/torch-peer):
// tokens/s of a training step (forward, PQM loss, backward, clip, AdamW) and of a scoring pass for the
// peer's S, M and L shapes, on wasm with 1 and 2 threads, median of a few steps after warm-up, plus
// peak RSS. Each backend setting runs in its own child process (the wasm thread count is fixed when the
// backend starts). When Debian's PyTorch is installed the peer runs in the same invocation and the
// ratios project/peer are reported at equal thread counts.
//   node --import tsx bench/run.ts [--skip-l] [--configs S,M] [--threads 1,2]
//   writes bench/results/training.json
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getLoss } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/backend/select-backend.js";
import { stableName } from "../src/prm/process-reward-model.js";
import { ValueHead } from "../src/prm/value-head.js";
import { AdamW } from "../src/training/adamw.js";
import { clipByGlobalNorm } from "../src/training/clip-gradients.js";
import { CONFIGS, type ConfigName, median, PEER_DIR, peerDecoder } from "./peer-configs.js";

const here = dirname(fileURLToPath(import.meta.url));
const PEER = PEER_DIR;
const TAGS_PER_SEQUENCE = 8;

interface ChildResult {
  config: ConfigName;
  backend: string;
  threads: number;
  trainMsMedian: number;
  trainTokensPerSecond: number;
  scoreMsMedian: number;
  scoreTokensPerSecond: number;
  peakRssMiB: number;
  parameters: number;
  lossFirst: number;
  lossLast: number;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index < 0 ? undefined : process.argv[index + 1];
}

/** One configuration at one thread count, in this process. */
async function child(name: ConfigName, threads: number): Promise<ChildResult> {
  const selection = await selectBackend({ backend: "wasm", threads, log: () => {} });
  const shape = CONFIGS[name];
  // Qwen2-style like the peer; no LM head in the step.
  const backbone = peerDecoder(name);
  const head = ValueHead.create(shape.hidden, 1);
  const parameters = new Map<string, tf.Variable>();
  for (const variable of backbone.trainableVariables) parameters.set(stableName(variable.name), variable);
  parameters.set("v_head.summary.weight", head.weight);
  parameters.set("v_head.summary.bias", head.bias);
  const list = [...parameters.values()];
  const loss = getLoss("pqm", { zeta: 4 });
  const optimizer = new AdamW();

  // Random tokens; 8 tags evenly spread; monotone labels (correct up to a random first mistake).
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const makeBatch = () => {
    const ids = Int32Array.from({ length: shape.batch * shape.seq }, () =>
      Math.floor(random() * shape.vocab),
    );
    const tags = new Int32Array(shape.batch * TAGS_PER_SEQUENCE);
    const labels = new Float32Array(shape.batch * TAGS_PER_SEQUENCE);
    for (let row = 0; row < shape.batch; row++) {
      const firstWrong = Math.floor(random() * (TAGS_PER_SEQUENCE + 1));
      for (let step = 0; step < TAGS_PER_SEQUENCE; step++) {
        tags[row * TAGS_PER_SEQUENCE + step] = Math.floor(((step + 1) * shape.seq) / TAGS_PER_SEQUENCE) - 1;
        labels[row * TAGS_PER_SEQUENCE + step] = step < firstWrong ? 1 : 0;
      }
    }
    return {
      inputIds: tf.tensor2d(ids, [shape.batch, shape.seq], "int32"),
      tagPositions: tf.tensor2d(tags, [shape.batch, TAGS_PER_SEQUENCE], "int32"),
      labels: tf.tensor2d(labels, [shape.batch, TAGS_PER_SEQUENCE]),
    };
  };
  const batches = [makeBatch(), makeBatch(), makeBatch()];
  const warmup = name === "L" ? 1 : 2;
  const measured = name === "L" ? 3 : 5;
  const trainTimes: number[] = [];
  const losses: number[] = [];
  for (let index = 0; index < warmup + measured; index++) {
    const batch = batches[index % batches.length]!;
    const start = performance.now();
    const { value, grads } = tf.variableGrads(() => {
      const hidden = backbone.forwardHidden({ inputIds: batch.inputIds });
      return loss(
        head.apply(hidden, batch.tagPositions, { training: true, dropoutSeed: index }),
        batch.labels,
      );
    }, list);
    const named = new Map<string, tf.Tensor>();
    for (const [variableName, gradient] of Object.entries(grads)) {
      if (gradient !== null) named.set(stableName(variableName), gradient);
    }
    const clipped = clipByGlobalNorm(named, 1);
    optimizer.applyGradients(parameters, clipped.gradients, 1e-4);
    losses.push(value.dataSync()[0] as number);
    tf.dispose([value, ...clipped.gradients.values()]);
    if (index >= warmup) trainTimes.push(performance.now() - start);
  }
  const scoreTimes: number[] = [];
  for (let index = 0; index < warmup + measured; index++) {
    const batch = batches[index % batches.length]!;
    const start = performance.now();
    const scores = tf.tidy(() =>
      head.apply(backbone.forwardHidden({ inputIds: batch.inputIds }), batch.tagPositions),
    );
    await scores.data();
    scores.dispose();
    if (index >= warmup) scoreTimes.push(performance.now() - start);
  }
  const tokens = shape.batch * shape.seq;
  const trainMs = median(trainTimes);
  const scoreMs = median(scoreTimes);
  return {
    config: name,
    backend: selection.tfBackend,
    threads: selection.threads,
    trainMsMedian: Math.round(trainMs * 10) / 10,
    trainTokensPerSecond: Math.round(tokens / (trainMs / 1000)),
    scoreMsMedian: Math.round(scoreMs * 10) / 10,
    scoreTokensPerSecond: Math.round(tokens / (scoreMs / 1000)),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    parameters: backbone.parameterCount() + head.hiddenSize + 1,
    lossFirst: losses[0]!,
    lossLast: losses.at(-1)!,
  };
}

function torchAvailable(): boolean {
  return spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" }).status === 0;
}

async function main(): Promise<void> {
  if (process.argv.includes("--child")) {
    const result = await child(argument("--config") as ConfigName, Number(argument("--threads")));
    // Exit explicitly: wasm pthread workers (2-thread runs) can keep the process alive.
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    return;
  }
  const configs = (argument("--configs") ?? (process.argv.includes("--skip-l") ? "S,M" : "S,M,L"))
    .split(",")
    .filter((name): name is ConfigName => name in CONFIGS);
  const threadCounts = (argument("--threads") ?? "1,2").split(",").map(Number);
  const project: ChildResult[] = [];
  for (const name of configs) {
    for (const threads of threadCounts) {
      process.stderr.write(`bench: ${name} on wasm, ${threads} thread(s)...\n`);
      const output = execFileSync(
        process.execPath,
        ["--import", "tsx", join(here, "run.ts"), "--child", "--config", name, "--threads", String(threads)],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
      );
      const result = JSON.parse(output.trim().split("\n").at(-1)!) as ChildResult;
      process.stderr.write(`  ${JSON.stringify(result)}\n`);
      project.push(result);
    }
  }
  let peer: Record<string, unknown>[] = [];
  let peerNote = "PyTorch not installed (/usr/bin/python3 -c 'import torch' failed); no peer run";
  if (torchAvailable()) {
    process.stderr.write(`bench: the PyTorch peer for ${configs.join(" ")}...\n`);
    const output = execFileSync("bash", [join(PEER, "run.sh"), ...configs], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 1 << 24,
    });
    peer = output
      .trim()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    peerNote = `bash ${PEER}/run.sh ${configs.join(" ")}`;
  }
  const ratios = project.map((result) => {
    const match = peer.find((entry) => entry.tag === result.config && entry.threads === result.threads);
    return {
      config: result.config,
      threads: result.threads,
      trainRatio:
        match === undefined
          ? null
          : round(result.trainTokensPerSecond / (match.train_tokens_per_s as number)),
      scoreRatio:
        match === undefined
          ? null
          : round(result.scoreTokensPerSecond / (match.score_tokens_per_s as number)),
      peerTrainTokensPerSecond: match?.train_tokens_per_s ?? null,
      peerScoreTokensPerSecond: match?.score_tokens_per_s ?? null,
    };
  });
  const report = {
    bench: "pqm-model-prm-training",
    command: `node --import tsx bench/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    },
    node: process.versions.node,
    tfjs: tf.version_core,
    workload: `forward + PQM loss (zeta 4) + backward + clip + AdamW; ${TAGS_PER_SEQUENCE} step tags per sequence; random tokens, monotone labels; medians after warm-up`,
    project,
    peer: { command: peerNote, results: peer },
    ratios,
    time: new Date().toISOString(),
  };
  const path = join(here, "results", "training.json");
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${path}\n`);
  for (const ratio of ratios) process.stderr.write(`  ${JSON.stringify(ratio)}\n`);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

await main();
