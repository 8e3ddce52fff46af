// Scoring benchmark of the ONNX path against the TF.js wasm path and the PyTorch peer
// (../shared/bench/torch-peer): tokens/s of a scoring pass (backbone forward, value head, scores read
// at 8 step tags per sequence) for the peer's S and M shapes, with 1 and 2 threads, medians after
// warm-up. Each engine and thread count runs in its own child process (the wasm thread count is fixed
// when the backend starts). The ONNX child also checks its scores against TF.js on the first batch.
// The peer runs in the same invocation when `/usr/bin/python3 -c "import torch"` works. On a shared
// machine the load moves between runs, so ONNX and the peer alternate for `--rounds` rounds and the best
// median of each is compared (every round's figure is kept in the report).
//   node --import tsx bench/onnx.bench.ts [--configs S,M] [--threads 1,2] [--rounds 2]
//   writes bench/results/onnx.json
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderBackbone } from "../src/backbone/decoder-backbone.js";
import { selectBackend } from "../src/backend/select-backend.js";
import { decoderOnnxBytes } from "../src/onnx/export-onnx.js";
import { OnnxDecoderSession } from "../src/onnx/onnx-decoder-session.js";
import { ValueHead } from "../src/prm/value-head.js";
import { CONFIGS, type ConfigName, median, PEER_DIR, peerDecoder } from "./peer-configs.js";

const here = dirname(fileURLToPath(import.meta.url));
const PEER = join(PEER_DIR, "torch_prm_step.py");
const TAGS_PER_SEQUENCE = 8;

type Engine = "onnx" | "tfjs-wasm";

interface ChildResult {
  engine: Engine;
  config: ConfigName;
  threads: number;
  scoreMsMedian: number;
  scoreTokensPerSecond: number;
  peakRssMiB: number;
  /** ONNX child only: max |ONNX − TF.js| over the first batch's tag scores. */
  maxAbsDifferenceVsTfjs?: number;
  /** ONNX child only: export time and file size. */
  exportMs?: number;
  onnxBytes?: number;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index < 0 ? undefined : process.argv[index + 1];
}

function buildModel(name: ConfigName): { backbone: DecoderBackbone; head: ValueHead } {
  const shape = CONFIGS[name];
  const backbone = peerDecoder(name);
  return { backbone, head: ValueHead.create(shape.hidden, 1) };
}

/** Random tokens and 8 evenly spread tags per row (as the peer and bench/run.ts). */
function makeBatches(name: ConfigName, count: number): { ids: Int32Array; tags: Int32Array }[] {
  const shape = CONFIGS[name];
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: count }, () => {
    const ids = Int32Array.from({ length: shape.batch * shape.seq }, () =>
      Math.floor(random() * shape.vocab),
    );
    const tags = new Int32Array(shape.batch * TAGS_PER_SEQUENCE);
    for (let row = 0; row < shape.batch; row++) {
      for (let step = 0; step < TAGS_PER_SEQUENCE; step++) {
        tags[row * TAGS_PER_SEQUENCE + step] = Math.floor(((step + 1) * shape.seq) / TAGS_PER_SEQUENCE) - 1;
      }
    }
    return { ids, tags };
  });
}

async function tfjsScores(
  backbone: DecoderBackbone,
  head: ValueHead,
  name: ConfigName,
  batch: { ids: Int32Array; tags: Int32Array },
): Promise<Float32Array> {
  const shape = CONFIGS[name];
  const scores = tf.tidy(() =>
    head.apply(
      backbone.forwardHidden({ inputIds: tf.tensor2d(batch.ids, [shape.batch, shape.seq], "int32") }),
      tf.tensor2d(batch.tags, [shape.batch, TAGS_PER_SEQUENCE], "int32"),
    ),
  );
  const values = (await scores.data()) as Float32Array;
  scores.dispose();
  return values;
}

/** One engine, configuration and thread count, in this process. */
async function child(engine: Engine, name: ConfigName, threads: number): Promise<ChildResult> {
  const shape = CONFIGS[name];
  const tokens = shape.batch * shape.seq;
  // The ONNX child uses wasm with one thread only to build the model and the reference scores.
  await selectBackend({ backend: "wasm", threads: engine === "onnx" ? 1 : threads, log: () => {} });
  const { backbone, head } = buildModel(name);
  const batches = makeBatches(name, 3);
  const warmup = 3;
  const measured = engine === "onnx" ? 10 : 5;
  const times: number[] = [];
  const result: Partial<ChildResult> = {};
  if (engine === "tfjs-wasm") {
    for (let index = 0; index < warmup + measured; index++) {
      const start = performance.now();
      await tfjsScores(backbone, head, name, batches[index % batches.length]!);
      if (index >= warmup) times.push(performance.now() - start);
    }
  } else {
    const exportStart = performance.now();
    const { bytes } = decoderOnnxBytes(backbone, {
      weight: Float32Array.from(head.weight.dataSync()),
      bias: head.bias.dataSync()[0]!,
    });
    result.exportMs = Math.round(performance.now() - exportStart);
    result.onnxBytes = bytes.byteLength;
    const session = await OnnxDecoderSession.open(bytes, { threads });
    const mask = new Int32Array(tokens).fill(1);
    const score = async (batch: { ids: Int32Array; tags: Int32Array }): Promise<Float32Array> => {
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
    const reference = await tfjsScores(backbone, head, name, batches[0]!);
    const first = await score(batches[0]!);
    result.maxAbsDifferenceVsTfjs = Math.max(
      ...first.map((value, index) => Math.abs(value - reference[index]!)),
    );
    for (let index = 0; index < warmup + measured; index++) {
      const start = performance.now();
      await score(batches[index % batches.length]!);
      if (index >= warmup) times.push(performance.now() - start);
    }
    await session.release();
  }
  const ms = median(times);
  return {
    engine,
    config: name,
    threads,
    scoreMsMedian: Math.round(ms * 10) / 10,
    scoreTokensPerSecond: Math.round(tokens / (ms / 1000)),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    ...result,
  };
}

function torchAvailable(): boolean {
  return spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" }).status === 0;
}

function peerArguments(name: ConfigName, threads: number): string[] {
  const shape = CONFIGS[name];
  return [
    PEER,
    ...["--vocab", shape.vocab, "--hidden", shape.hidden, "--layers", shape.layers, "--heads", shape.heads],
    ...[
      "--kv-heads",
      shape.kvHeads,
      "--intermediate",
      shape.intermediate,
      "--seq",
      shape.seq,
      "--batch",
      shape.batch,
    ],
    ...["--threads", threads, "--steps", 10, "--warmup", 3, "--tag", name],
  ].map(String);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

async function main(): Promise<void> {
  if (process.argv.includes("--child")) {
    const result = await child(
      argument("--engine") as Engine,
      argument("--config") as ConfigName,
      Number(argument("--threads")),
    );
    // Exit explicitly: wasm pthread workers (2-thread runs) can keep the process alive.
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    return;
  }
  const configs = (argument("--configs") ?? "S,M")
    .split(",")
    .filter((name): name is ConfigName => name in CONFIGS);
  const threadCounts = (argument("--threads") ?? "1,2").split(",").map(Number);
  const rounds = Number(argument("--rounds") ?? 2);
  const withTorch = torchAvailable();
  const project: ChildResult[] = [];
  const peer: Record<string, unknown>[] = [];
  const runChild = (engine: Engine, name: ConfigName, threads: number): void => {
    process.stderr.write(`bench: ${name}, ${engine}, ${threads} thread(s)...\n`);
    const output = execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(here, "onnx.bench.ts"),
        ...["--child", "--engine", engine, "--config", name, "--threads", String(threads)],
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 24 },
    );
    const result = JSON.parse(output.trim().split("\n").at(-1)!) as ChildResult;
    process.stderr.write(`  ${JSON.stringify(result)}\n`);
    project.push(result);
  };
  const runPeer = (name: ConfigName, threads: number): void => {
    process.stderr.write(`bench: ${name}, PyTorch peer, ${threads} thread(s)...\n`);
    const output = execFileSync("/usr/bin/python3", peerArguments(name, threads), {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 1 << 24,
    });
    const line = output
      .trim()
      .split("\n")
      .find((text) => text.startsWith("{"));
    if (line === undefined) return;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    process.stderr.write(`  torch score tokens/s ${String(parsed.score_tokens_per_s)}\n`);
    peer.push(parsed);
  };
  for (const name of configs) {
    for (const threads of threadCounts) {
      runChild("tfjs-wasm", name, threads);
      for (let round = 0; round < rounds; round++) {
        runChild("onnx", name, threads);
        if (withTorch) runPeer(name, threads);
      }
    }
  }
  const best = (values: number[]): number | null => (values.length === 0 ? null : Math.max(...values));
  const comparisons = configs.flatMap((name) =>
    threadCounts.map((threads) => {
      const tokens = (engine: Engine) =>
        project
          .filter((r) => r.engine === engine && r.config === name && r.threads === threads)
          .map((r) => r.scoreTokensPerSecond);
      const onnxRounds = tokens("onnx");
      const torchRounds = peer
        .filter((entry) => entry.tag === name && entry.threads === threads)
        .map((entry) => entry.score_tokens_per_s as number);
      const onnx = best(onnxRounds);
      const wasm = best(tokens("tfjs-wasm"));
      const torch = best(torchRounds);
      return {
        config: name,
        threads,
        onnxTokensPerSecond: onnx,
        tfjsWasmTokensPerSecond: wasm,
        torchTokensPerSecond: torch,
        onnxOverTfjsWasm: onnx !== null && wasm !== null ? round(onnx / wasm) : null,
        onnxOverTorch: onnx !== null && torch !== null ? round(onnx / torch) : null,
        onnxRounds,
        torchRounds,
      };
    }),
  );
  const report = {
    bench: "pqm-model-onnx-scoring",
    command:
      `cd packages/model && node --import tsx bench/onnx.bench.ts ${process.argv.slice(2).join(" ")}`.trim(),
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      logicalCores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadAverageAtEnd: os.loadavg().map((value) => Math.round(value * 100) / 100),
      node: process.versions.node,
    },
    versions: { "onnxruntime-node": "1.30.0", "@tensorflow/tfjs-core": tf.version_core },
    workload: `scoring pass: backbone forward (no LM head), value head, scores at ${TAGS_PER_SEQUENCE} tags per sequence; random tokens, no padding; medians after 3 warm-up passes (ONNX 10 timed, TF.js 5, the peer 10); ONNX and the peer alternate for ${rounds} rounds, comparisons use the best round of each, TF.js one round`,
    threads: threadCounts,
    project,
    peer: {
      command: withTorch ? `/usr/bin/python3 ${PEER} <config flags> --threads N --steps 10 --warmup 3` : null,
      note: withTorch
        ? "run in this invocation"
        : "PyTorch not installed (/usr/bin/python3 -c 'import torch' failed)",
      results: peer.map((entry) => ({
        tag: entry.tag,
        threads: entry.threads,
        score_ms_median: entry.score_ms_median,
        score_tokens_per_s: entry.score_tokens_per_s,
        torch: entry.torch,
        blas_libs: entry.blas_libs,
      })),
    },
    comparisons,
    time: new Date().toISOString(),
  };
  mkdirSync(join(here, "results"), { recursive: true });
  const path = join(here, "results", "onnx.json");
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${path}\n`);
  for (const comparison of comparisons) process.stderr.write(`  ${JSON.stringify(comparison)}\n`);
}

await main();
