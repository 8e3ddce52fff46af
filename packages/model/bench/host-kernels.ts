// Which lever moved what: the training step of torch-peer shapes on wasm (matrix products on ONNX
// Runtime) with this package's host and SIMD kernels added one at a time, in the same process:
//   none        the wasm backend's stock kernels
//   +reductions Sum over leading axes, row GatherV2, same-dtype Cast as host loops
//   +rotary     the rotary embedding and its gradient in one kernel each
//   +adamw      AdamW in one SIMD pass per parameter
//   +softmax    the attention softmax's gradient in one SIMD kernel
//   +swiglu     SwiGLU's gradient in one SIMD kernel
//   +rmsnorm    RMSNorm forward and backward in one SIMD kernel each (= everything, the default)
// Each round runs the sets in alternating order (forward, then backward) so drift hits all alike;
// reported: the median of all timed steps, tokens/s, and (S and M) kernel calls per step.
//   node --import tsx bench/host-kernels.ts [--configs S,M,L] [--rounds 2] [--threads 1] [--out bench/results]
import { execSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/tfjs-backends/select-backend.js";
import {
  HostKernel,
  installWasmHostKernels,
  uninstallWasmHostKernels,
} from "../src/tfjs-backends/wasm-host-kernels.js";
import { argument } from "./bench-args.js";
import { type ConfigName, median } from "./peer-configs.js";
import { createStepHarness } from "./prm-step.js";

const here = dirname(fileURLToPath(import.meta.url));

const LEVERS: readonly { name: string; kernels: readonly string[] }[] = [
  { name: "none", kernels: [] },
  { name: "+reductions", kernels: ["Sum", "GatherV2", "Cast"] },
  { name: "+rotary", kernels: [HostKernel.rotary] },
  { name: "+adamw", kernels: [HostKernel.adamW] },
  { name: "+softmax", kernels: [HostKernel.softmaxGrad] },
  { name: "+swiglu", kernels: [HostKernel.swigluGrad] },
  { name: "+rmsnorm", kernels: [HostKernel.rmsNorm, HostKernel.rmsNormGrad] },
];

function cumulative(index: number): string[] {
  return LEVERS.slice(0, index + 1).flatMap((lever) => lever.kernels);
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((text) => text.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  } catch {
    return os.cpus()[0]?.model ?? "unknown";
  }
}

async function main(): Promise<void> {
  const configs = (argument("--configs") ?? "S,M,L").split(",") as ConfigName[];
  const rounds = Number(argument("--rounds") ?? 2);
  const threads = Number(argument("--threads") ?? 1);
  const outDir = resolve(argument("--out") ?? join(here, "results"));
  const selection = await selectBackend({ backend: "wasm", threads });
  if (selection.matmul !== "onnxruntime") throw new Error("this bench wants onnxruntime-node installed");
  const rows: Record<string, unknown>[] = [];
  for (const name of configs) {
    const harness = createStepHarness(name);
    const tokens = harness.shape.batch * harness.shape.seq;
    const timed = name === "L" ? 3 : 5;
    const samples = new Map<string, number[]>(LEVERS.map((lever) => [lever.name, []]));
    const calls = new Map<string, number>();
    let step = 0;
    for (let round = 0; round < rounds; round++) {
      const order = LEVERS.map((_, index) => index);
      if (round % 2 === 1) order.reverse();
      for (const index of order) {
        const lever = LEVERS[index] as (typeof LEVERS)[number];
        uninstallWasmHostKernels();
        installWasmHostKernels({ kernels: cumulative(index) });
        for (let warm = 0; warm < 2; warm++) await harness.train(step++);
        for (let repeat = 0; repeat < timed; repeat++) {
          const started = performance.now();
          await harness.train(step++);
          samples.get(lever.name)?.push(performance.now() - started);
        }
        if (round === 0 && name !== "L") {
          const profile = await tf.profile(async () => {
            await harness.train(step++);
            return tf.scalar(0);
          });
          calls.set(lever.name, profile.kernels.length);
        }
        process.stderr.write(
          `bench: ${name} ${lever.name.padEnd(12)} round ${round + 1}: ${median(samples.get(lever.name) ?? []).toFixed(1)} ms\n`,
        );
      }
    }
    harness.dispose();
    const baseline = median(samples.get("none") ?? []);
    for (const lever of LEVERS) {
      const stepMs = median(samples.get(lever.name) ?? []);
      rows.push({
        config: name,
        lever: lever.name,
        stepMs: Math.round(stepMs * 10) / 10,
        trainTokensPerSecond: Math.round((tokens / stepMs) * 1000),
        speedupOverNone: Math.round((baseline / stepMs) * 100) / 100,
        kernelCallsPerStep: calls.get(lever.name) ?? null,
      });
    }
  }
  uninstallWasmHostKernels();
  installWasmHostKernels();
  const machine = {
    cpu: cpuModel(),
    logicalCores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.versions.node,
    kernel: execSync("uname -r").toString().trim(),
  };
  const command = `cd packages/model && node --import tsx bench/host-kernels.ts --configs ${configs.join(",")} --rounds ${rounds} --threads ${threads}`;
  const date = new Date().toISOString();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, "host-kernels.json"),
    `${JSON.stringify({ bench: "pqm-model-host-kernels", command, machine, backend: selection.description, threads, rounds, date, rows }, null, 2)}\n`,
  );
  const table = [
    `Machine: ${machine.cpu}, ${machine.logicalCores} logical cores, Node ${machine.node}; ${selection.description}. ${date.slice(0, 10)}.`,
    `Command: \`${command}\`. Levers are cumulative, each row adds one to the row above; step = median of all timed steps (5 per set and round; L 3) over ${rounds} rounds in alternating order.`,
    "",
    "| config | lever | step ms | train tokens/s | speed-up over none | kernel calls per step |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.config} | ${row.lever} | ${row.stepMs} | ${(row.trainTokensPerSecond as number).toLocaleString("en-US")} | ${row.speedupOverNone}x | ${row.kernelCallsPerStep ?? "-"} |`,
    ),
  ];
  writeFileSync(join(outDir, "host-kernels.md"), `${table.join("\n")}\n`);
  process.stdout.write(`${table.join("\n")}\n`);
}

await main();
