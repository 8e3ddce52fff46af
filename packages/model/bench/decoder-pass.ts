// The decoder's training pass on ONNX Runtime against TF.js's own gradients, in one process per thread
// count, on the PyTorch peer's S / M / L steps (bench/prm-step.ts): which lever the ONNX Runtime pass is,
// and the one-graph step (value head and PQM loss inside the same ONNX Runtime run) on top of it.
//
//   node --import tsx bench/decoder-pass.ts [--configs S,M,L] [--threads 1,2] [--rounds 2] [--out bench/results]
//
// Each child starts the wasm backend (matrix products on ONNX Runtime, `--threads` of them), builds one
// harness per configuration and times training steps with the decoder's forward and backward (a) by
// TF.js's tape and (b) by OnnxDecoderTrainer, alternating which goes first in each round, on the same
// weights (the steps keep training them; only time is compared), and (c) by OnnxDecoderTrainer's
// one-graph `step`. For (b) it also splits the step into the forward pass, the backward pass and the rest
// (value head, loss, clipping, AdamW, all TF.js); for (c) into the ONNX Runtime run and the rest
// (clipping, AdamW).
// L's TF.js pass takes 4 micro-batches of one row (its batch-4 tape does not fit wasm's 4 GiB heap, as in
// bench/run.ts); the ONNX Runtime pass takes the whole batch. Writes <out>/decoder-pass.json and .md.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { OnnxDecoderTrainer } from "../src/onnx/onnx-training-step.js";
import { selectBackend } from "../src/tfjs-backends/select-backend.js";
import { argument } from "./bench-args.js";
import { CONFIGS, type ConfigName, cpuIdentity, median } from "./peer-configs.js";
import { createStepHarness } from "./prm-step.js";

const here = dirname(fileURLToPath(import.meta.url));

interface ChildRow {
  config: ConfigName;
  threads: number;
  tfjsMicroBatches: number;
  tfjsStepMs: number;
  onnxStepMs: number;
  onnxForwardMs: number;
  onnxBackwardMs: number;
  onnxRestMs: number;
  stepStepMs: number;
  stepRunMs: number;
  stepRestMs: number;
  tfjsSteps: number[];
  onnxSteps: number[];
  stepSteps: number[];
}

/** `call`, adding the milliseconds each call takes to `total.ms`. */
function timed<A extends unknown[], R>(call: (...args: A) => R, total: { ms: number }): (...args: A) => R {
  return (...args) => {
    const started = performance.now();
    const result = call(...args);
    total.ms += performance.now() - started;
    return result;
  };
}

async function child(configs: ConfigName[], threads: number, rounds: number): Promise<ChildRow[]> {
  await selectBackend({ backend: "wasm", threads, matmul: "onnxruntime" });
  const rows: ChildRow[] = [];
  for (const name of configs) {
    const tfjsMicroBatches = name === "L" ? 4 : 1;
    // Two models from the same seed, one per pass: the TF.js pass's micro-batched, the ONNX Runtime
    // pass's whole-batch.
    const tfjsHarness = createStepHarness(name, {}, { microBatches: tfjsMicroBatches });
    const perRound = name === "L" ? 2 : 4;
    const tfjsSteps: number[] = [];
    const timeTfjs = async (index: number) => {
      const started = performance.now();
      await tfjsHarness.train(index);
      return performance.now() - started;
    };
    const onnxHarness = createStepHarness(name);
    const trainer = await OnnxDecoderTrainer.create(onnxHarness.backbone, {
      threads,
      spinning: threads === 1,
    });
    onnxHarness.useTrainer(trainer);
    const split = { forward: { ms: 0 }, backward: { ms: 0 } };
    trainer.forward = timed(trainer.forward.bind(trainer), split.forward);
    trainer.backward = timed(trainer.backward.bind(trainer), split.backward);
    const onnxSteps: number[] = [];
    const forwardMs: number[] = [];
    const backwardMs: number[] = [];
    const restMs: number[] = [];
    const timeOnnx = async (index: number) => {
      split.forward.ms = 0;
      split.backward.ms = 0;
      const started = performance.now();
      await onnxHarness.train(index);
      const elapsed = performance.now() - started;
      forwardMs.push(split.forward.ms);
      backwardMs.push(split.backward.ms);
      restMs.push(elapsed - split.forward.ms - split.backward.ms);
      return elapsed;
    };
    // (c) the one-graph step, on a third model from the same seed.
    const stepHarness = createStepHarness(name);
    const stepTrainer = await OnnxDecoderTrainer.create(stepHarness.backbone, {
      threads,
      spinning: threads === 1,
      pqmLoss: { zeta: 4 },
    });
    stepHarness.useTrainer(stepTrainer);
    const stepRun = { ms: 0 };
    stepTrainer.step = timed(stepTrainer.step.bind(stepTrainer), stepRun);
    const stepSteps: number[] = [];
    const stepRunMs: number[] = [];
    const stepRestMs: number[] = [];
    const timeStep = async (index: number) => {
      stepRun.ms = 0;
      const started = performance.now();
      await stepHarness.train(index);
      const elapsed = performance.now() - started;
      stepRunMs.push(stepRun.ms);
      stepRestMs.push(elapsed - stepRun.ms);
      return elapsed;
    };
    // Warm-up: one step each (sessions built, kernels compiled, heap grown).
    await timeTfjs(0);
    await timeOnnx(0);
    await timeStep(0);
    forwardMs.length = 0;
    backwardMs.length = 0;
    restMs.length = 0;
    stepRunMs.length = 0;
    stepRestMs.length = 0;
    const orders = [
      ["tfjs", "onnx", "step"],
      ["step", "onnx", "tfjs"],
      ["onnx", "step", "tfjs"],
    ];
    for (let round = 0; round < rounds; round++) {
      for (const which of orders[round % orders.length] as string[]) {
        for (let step = 0; step < perRound; step++) {
          process.stderr.write(`bench: ${name}/${threads} round ${round + 1} ${which} step ${step + 1}\r`);
          if (which === "tfjs") tfjsSteps.push(await timeTfjs(step + 1));
          else if (which === "onnx") onnxSteps.push(await timeOnnx(step + 1));
          else stepSteps.push(await timeStep(step + 1));
        }
      }
    }
    stepTrainer.dispose();
    stepHarness.dispose();
    trainer.dispose();
    onnxHarness.dispose();
    tfjsHarness.dispose();
    const onnxStepMs = median(onnxSteps);
    const onnxForwardMs = median(forwardMs);
    const onnxBackwardMs = median(backwardMs);
    const round1 = (value: number) => Math.round(value * 10) / 10;
    rows.push({
      config: name,
      threads,
      tfjsMicroBatches,
      tfjsStepMs: round1(median(tfjsSteps)),
      onnxStepMs: round1(onnxStepMs),
      onnxForwardMs: round1(onnxForwardMs),
      onnxBackwardMs: round1(onnxBackwardMs),
      onnxRestMs: round1(median(restMs)),
      stepStepMs: round1(median(stepSteps)),
      stepRunMs: round1(median(stepRunMs)),
      stepRestMs: round1(median(stepRestMs)),
      tfjsSteps: tfjsSteps.map(round1),
      onnxSteps: onnxSteps.map(round1),
      stepSteps: stepSteps.map(round1),
    });
  }
  return rows;
}

async function main(): Promise<void> {
  const configs = (argument("--configs") ?? "S,M,L").split(",").map((name) => {
    if (!(name in CONFIGS)) throw new Error(`--configs: unknown configuration ${name} (S, M or L)`);
    return name as ConfigName;
  });
  const rounds = Number(argument("--rounds") ?? 2);
  if (process.argv.includes("--child")) {
    const rows = await child(configs, Number(argument("--threads") ?? 1), rounds);
    process.stdout.write(`${JSON.stringify(rows)}\n`, () => process.exit(0));
    return;
  }
  const threadCounts = (argument("--threads") ?? "1,2").split(",").map(Number);
  const outDir = resolve(argument("--out") ?? join(here, "results"));
  const rows: ChildRow[] = [];
  for (const threads of threadCounts) {
    const run = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(here, "decoder-pass.ts"),
        "--child",
        "--threads",
        String(threads),
        "--configs",
        configs.join(","),
        "--rounds",
        String(rounds),
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
    );
    if (run.status !== 0) throw new Error(`the ${threads}-thread child failed (exit ${run.status})`);
    rows.push(...(JSON.parse(run.stdout.trim().split("\n").at(-1) as string) as ChildRow[]));
  }
  const command = `cd packages/model && node --import tsx bench/decoder-pass.ts --configs ${configs.join(",")} --threads ${threadCounts.join(",")} --rounds ${rounds}`;
  const cpu = cpuIdentity();
  const machine = { cpu: cpu.model, logicalCores: os.cpus().length, node: process.versions.node };
  const time = new Date().toISOString();
  writeFileSync(
    join(outDir, "decoder-pass.json"),
    `${JSON.stringify({ bench: "pqm-model-decoder-pass", command, machine, rounds, rows, time }, null, 2)}\n`,
  );
  const lines = [
    `Machine: ${machine.cpu}, ${machine.logicalCores} logical cores, Node ${machine.node}; wasm backend, matrix products on ONNX Runtime. ${time.slice(0, 10)}.`,
    `Command: \`${command}\`. Step, and each part of a step, = median of the timed steps (S, M: ${rounds} rounds of 4 per variant; L: ${rounds} rounds of 2), the three variants in rotating order, one process per thread count. (a) TF.js's gradients; (b) the decoder's forward and backward as two ONNX Runtime runs (rest: value head, loss, clipping, AdamW in TF.js); (c) the whole step's loss and gradients as one ONNX Runtime run (rest: clipping, AdamW).`,
    "",
    "| config | threads | (a) TF.js pass, step ms | (b) two ONNX Runtime runs, step ms | (b) vs (a) | its forward ms | backward ms | rest ms | (c) one run, step ms | (c) vs (b) | its run ms | rest ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.config} | ${row.threads} | ${row.tfjsStepMs}${row.tfjsMicroBatches > 1 ? ` (${row.tfjsMicroBatches} micro-batches)` : ""} | ${row.onnxStepMs} | ${(row.tfjsStepMs / row.onnxStepMs).toFixed(2)}x | ${row.onnxForwardMs} | ${row.onnxBackwardMs} | ${row.onnxRestMs} | ${row.stepStepMs} | ${(row.onnxStepMs / row.stepStepMs).toFixed(2)}x | ${row.stepRunMs} | ${row.stepRestMs} |`,
    ),
    "",
  ];
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "decoder-pass.md"), lines.join("\n"));
  process.stdout.write(lines.join("\n"));
}

await main();
