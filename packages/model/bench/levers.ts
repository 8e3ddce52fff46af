// What would make training faster: a kernel-by-kernel profile of one training step (forward, PQM loss,
// backward, clip, AdamW) of a torch-peer configuration on the chosen TF.js backend, grouped by kernel,
// with matrix products split by shape; and the matrix products' speed on ONNX Runtime for the same
// shapes, which bounds what ONNX-Runtime-backed matmul kernels could give.
//   node --import tsx bench/levers.ts [--config M] [--threads 1] [--backend wasm] [--out bench/results]
// Writes <out>/levers-<config>-<backend>-<threads>t.json and prints a summary.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { installOnnxMatMul, onnxMatMulStatistics } from "../src/onnx/runtime-matmul.js";
import { type BackendChoice, selectBackend } from "../src/tfjs-backends/select-backend.js";
import { argument } from "./bench-args.js";
import { type ConfigName, median } from "./peer-configs.js";
import { createStepHarness } from "./prm-step.js";

const here = dirname(fileURLToPath(import.meta.url));

interface KernelGroup {
  kernel: string;
  calls: number;
  ms: number;
  share: number;
}

async function main(): Promise<void> {
  const name = (argument("--config") ?? "M") as ConfigName;
  const threads = Number(argument("--threads") ?? 1);
  const backend = (argument("--backend") ?? "wasm") as BackendChoice;
  const matmul = argument("--matmul") ?? "tfjs"; // "onnx": ONNX-Runtime-backed BatchMatMul
  const outDir = resolve(argument("--out") ?? join(here, "results"));
  const selection = await selectBackend({ backend, threads, matmul: "wasm" });
  const onnxThreads = Number(argument("--onnx-threads") ?? threads);
  const spinning = argument("--spinning") !== "off";
  if (matmul === "onnx") await installOnnxMatMul({ threads: onnxThreads, spinning });
  const harness = createStepHarness(name);
  const tokens = harness.shape.batch * harness.shape.seq;

  // Warm-up, then plain timings (no profiler), then one profiled step.
  for (let index = 0; index < 2; index++) await harness.train(index);
  const plain: number[] = [];
  for (let index = 2; index < 5; index++) {
    const start = performance.now();
    await harness.train(index);
    plain.push(performance.now() - start);
  }
  const stepMs = median(plain);
  const profile = await tf.profile(async () => {
    await harness.train(5);
    return tf.scalar(0);
  });
  const byKernel = new Map<string, { calls: number; ms: number }>();
  const byMatMulShape = new Map<string, { calls: number; ms: number; gflop: number }>();
  let kernelMs = 0;
  for (const kernel of profile.kernels) {
    const ms = typeof kernel.kernelTimeMs === "number" ? kernel.kernelTimeMs : 0;
    kernelMs += ms;
    const group = byKernel.get(kernel.name) ?? { calls: 0, ms: 0 };
    group.calls++;
    group.ms += ms;
    byKernel.set(kernel.name, group);
    if (kernel.name === "BatchMatMul") {
      const [a, b] = kernel.inputShapes as number[][];
      const out = kernel.outputShapes[0] as number[];
      const inner = (a ?? []).length === (out ?? []).length ? innerSize(a!, b!, out!) : 0;
      const gflop = (2 * out!.reduce((x, y) => x * y, 1) * inner) / 1e9;
      const key = `${JSON.stringify(a)} x ${JSON.stringify(b)} -> ${JSON.stringify(out)}`;
      const entry = byMatMulShape.get(key) ?? { calls: 0, ms: 0, gflop: 0 };
      entry.calls++;
      entry.ms += ms;
      entry.gflop += gflop;
      byMatMulShape.set(key, entry);
    }
  }
  const kernels: KernelGroup[] = [...byKernel.entries()]
    .map(([kernel, { calls, ms }]) => ({ kernel, calls, ms: round(ms), share: round(ms / kernelMs) }))
    .sort((a, b) => b.ms - a.ms);
  const matmuls = [...byMatMulShape.entries()]
    .map(([shape, { calls, ms, gflop }]) => ({
      shape,
      calls,
      ms: round(ms),
      gflopPerSecond: round(gflop / (ms / 1000)),
    }))
    .sort((a, b) => b.ms - a.ms);
  const report = {
    bench: "pqm-model-levers",
    command:
      `cd packages/model && node --import tsx bench/levers.ts ${process.argv.slice(2).join(" ")}`.trim(),
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      logicalCores: os.cpus().length,
      node: process.versions.node,
    },
    config: name,
    backend: selection.backend,
    threads: selection.threads,
    matmul,
    stepMs: round(stepMs),
    trainTokensPerSecond: Math.round(tokens / (stepMs / 1000)),
    profiledKernelMs: round(kernelMs),
    profiledKernelCalls: profile.kernels.length,
    kernels,
    matmuls,
    onnxMatMul: matmul === "onnx" ? onnxMatMulStatistics() : null,
    time: new Date().toISOString(),
  };
  mkdirSync(outDir, { recursive: true });
  const variant = matmul === "onnx" ? `onnx${onnxThreads}${spinning ? "" : "-nospin"}` : matmul;
  const path = join(outDir, `levers-${name}-${selection.backend}${selection.threads}-${variant}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(
    `${name} on ${selection.backend} (${selection.threads} thread(s), matmul ${variant}): step ${round(stepMs)} ms = ${report.trainTokensPerSecond} tokens/s; profiled kernels ${round(kernelMs)} ms in ${profile.kernels.length} calls\n`,
  );
  for (const group of kernels.slice(0, 14))
    process.stderr.write(
      `  ${group.kernel.padEnd(22)} ${String(group.calls).padStart(5)} calls ${group.ms.toFixed(1).padStart(9)} ms ${(group.share * 100).toFixed(1).padStart(5)}%\n`,
    );
  process.stderr.write("  matrix products by shape (slowest first):\n");
  for (const entry of matmuls.slice(0, 12))
    process.stderr.write(
      `    ${entry.shape.padEnd(44)} ${String(entry.calls).padStart(3)} calls ${entry.ms.toFixed(1).padStart(8)} ms ${entry.gflopPerSecond.toFixed(1).padStart(6)} GFLOP/s\n`,
    );
  process.stderr.write(`bench: wrote ${path}\n`);
  process.exit(0);
}

/** The contracted dimension of a (possibly transposed) product, from input and output shapes. */
function innerSize(a: number[], b: number[], out: number[]): number {
  const rows = out[out.length - 2]!;
  const aLast = a[a.length - 1]!;
  const aSecond = a[a.length - 2]!;
  // a is [.., rows, k] (not transposed) or [.., k, rows] (transposed).
  if (aSecond === rows && aLast !== rows) return aLast;
  if (aLast === rows && aSecond !== rows) return aSecond;
  const bSecond = b[b.length - 2]!;
  const bLast = b[b.length - 1]!;
  const cols = out[out.length - 1]!;
  return bLast === cols ? bSecond : bLast;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

await main();
