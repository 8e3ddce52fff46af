// Kernel launches on the webgpu backend, with the fused WGSL kernels and with TF.js's composed
// operations, per fused operation (forward, and forward with backward) and for whole training steps
// and scoring passes of the torch peer's shapes. Counts do not depend on the adapter: lavapipe (Mesa's
// CPU Vulkan) gives the same numbers as a GPU. Every launch binds its buffers through one
// `createBindGroup`, so counting those counts launches.
//
//   node --import tsx bench/webgpu/launch-counts.ts [--configs S] [--batch 2] [--out bench/results/webgpu-launches.json]
//
// Writes the JSON and a markdown table beside it (`.md`).
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, resolve } from "node:path";
import { getLoss } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { swiGlu } from "../../src/backbone/decoder-backbone.js";
import { composedAttention, fusedAttention } from "../../src/backbone/layers/attention.js";
import { additiveAttentionMask } from "../../src/backbone/layers/attention-mask.js";
import { rmsNorm } from "../../src/backbone/layers/rms-norm.js";
import {
  applyRotaryEmbedding,
  ropeCosSin,
  ropeInverseFrequencies,
} from "../../src/backbone/layers/rotary-embedding.js";
import { selectBackend } from "../../src/tfjs-backends/select-backend.js";
import { HostKernel, hasHostKernel } from "../../src/tfjs-backends/wasm-host-kernels.js";
import {
  installWebGpuFusedKernels,
  uninstallWebGpuFusedKernels,
} from "../../src/tfjs-backends/webgpu-fused-kernels.js";
import { AdamW } from "../../src/training/adamw.js";
import { globalNormTensor } from "../../src/training/clip-gradients.js";
import { argument } from "../bench-args.js";
import { CONFIGS, type ConfigName } from "../peer-configs.js";
import { createStepHarness } from "../prm-step.js";

let launches = 0;

/** Launches of `work` (its tensors are disposed, and the queue is drained first and after). */
async function count(work: () => tf.Tensor[] | Promise<unknown>): Promise<number> {
  launches = 0;
  const result = await work();
  const counted = launches;
  if (Array.isArray(result)) {
    await Promise.all(result.map((tensor) => tensor.data()));
    tf.dispose(result);
  }
  return counted;
}

interface Row {
  operation: string;
  composed: { forward: number; both: number };
  fused: { forward: number; both: number };
}

async function bothWays(
  operation: string,
  forward: () => tf.Tensor[],
  both: () => tf.Tensor[],
): Promise<Row> {
  uninstallWebGpuFusedKernels();
  const composed = { forward: await count(forward), both: await count(both) };
  installWebGpuFusedKernels();
  const fused = { forward: await count(forward), both: await count(both) };
  return { operation, composed, fused };
}

async function main(): Promise<void> {
  tf.env().set("PROD", true);
  const selection = await selectBackend({ backend: "webgpu" });
  const device = (tf.backend() as unknown as { device: { createBindGroup: (...args: unknown[]) => unknown } })
    .device;
  const createBindGroup = device.createBindGroup;
  device.createBindGroup = (...args: unknown[]) => {
    launches++;
    return createBindGroup.apply(device, args);
  };
  const configs = (argument("--configs") ?? "S").split(",") as ConfigName[];
  const batch = Number(argument("--batch") ?? 2);
  const shape = CONFIGS.S;
  const { hidden, heads, kvHeads, seq, intermediate } = shape;
  const headDim = hidden / heads;
  const rows: Row[] = [];
  const random = (dims: number[]) => tf.randomNormal(dims, 0, 1, "float32", 7);

  // Per operation, on S's layer shapes at `batch` sequences.
  const x = random([batch * seq, hidden]);
  const weight = random([hidden]);
  rows.push(
    await bothWays(
      "RMSNorm",
      () => [rmsNorm(x, weight, 1e-6)],
      () => tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(rmsNorm(a, w, 1e-6)))([x, weight]),
    ),
  );
  const q = random([batch, heads, seq, headDim]);
  const k = random([batch, kvHeads, seq, headDim]);
  const v = random([batch, kvHeads, seq, headDim]);
  const positions = tf.tile(tf.reshape(tf.range(0, seq, 1, "int32"), [1, seq]), [batch, 1]);
  const { cos, sin } = ropeCosSin(positions, ropeInverseFrequencies(headDim, 10_000));
  rows.push(
    await bothWays(
      "rotary embedding (queries)",
      () => [applyRotaryEmbedding(q, cos, sin)],
      () => [tf.grad((a: tf.Tensor) => tf.sum(applyRotaryEmbedding(a, cos, sin)))(q)],
    ),
  );
  const gate = random([batch * seq, intermediate]);
  const up = random([batch * seq, intermediate]);
  rows.push(
    await bothWays(
      "SwiGLU",
      () => [swiGlu(gate, up)],
      () => tf.grads((g: tf.Tensor, u: tf.Tensor) => tf.sum(swiGlu(g, u)))([gate, up]),
    ),
  );
  const mask = additiveAttentionMask(tf.ones([batch, seq], "int32"));
  const attend = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    hasHostKernel(HostKernel.attention)
      ? tf.reshape(fusedAttention(a, b, c, mask, 1 / Math.sqrt(headDim)), [batch * seq, hidden])
      : composedAttention(a, b, c, mask, 1 / Math.sqrt(headDim));
  rows.push(
    await bothWays(
      "attention (one layer)",
      () => [attend(q, k, v)],
      () => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(attend(a, b, c)))([q, k, v]),
    ),
  );
  const tags = 8;
  const labelValues = Array.from({ length: batch * tags }, (_, index) => (index % tags < 5 ? 1 : 0));
  const labels = tf.tensor2d(labelValues, [batch, tags]);
  const scores = random([batch, tags]);
  const loss = getLoss("pqm", { zeta: 4 });
  rows.push(
    await bothWays(
      "PQM loss",
      () => [loss(scores as tf.Tensor2D, labels, labelValues)],
      () => [tf.grad((a: tf.Tensor) => loss(a as tf.Tensor2D, labels, labelValues))(scores)],
    ),
  );
  // The optimizer side: 29 gradients of assorted shapes (as many as S's parameters).
  const gradients = new Map(
    Array.from({ length: 29 }, (_, index) => [
      `p${index}`,
      random(index % 3 === 0 ? [hidden] : [hidden, 64]),
    ]),
  );
  uninstallWebGpuFusedKernels();
  const normComposed = await count(() => [globalNormTensor(gradients)]);
  installWebGpuFusedKernels();
  const normFused = await count(() => [globalNormTensor(gradients)]);
  rows.push({
    operation: "global gradient norm (29 gradients)",
    composed: { forward: normComposed, both: normComposed },
    fused: { forward: normFused, both: normFused },
  });
  const adamw = async () => {
    const parameter = new Map([["w", tf.variable(random([hidden, intermediate]))]]);
    const gradient = new Map([["w", random([hidden, intermediate])]]);
    const optimizer = new AdamW({ weightDecay: 0.01 });
    optimizer.applyGradients(parameter, gradient, 1e-3); // creates the moments
    const counted = await count(async () => {
      optimizer.applyGradients(parameter, gradient, 1e-3, { gradientScale: 0.5 });
      await (parameter.get("w") as tf.Variable).data();
    });
    optimizer.dispose();
    tf.dispose([...parameter.values(), ...gradient.values()]);
    return counted;
  };
  uninstallWebGpuFusedKernels();
  const adamComposed = await adamw();
  installWebGpuFusedKernels();
  const adamFused = await adamw();
  rows.push({
    operation: "AdamW with clipping factor (one parameter)",
    composed: { forward: adamComposed, both: adamComposed },
    fused: { forward: adamFused, both: adamFused },
  });

  // Whole steps.
  const steps: { config: string; batch: number; train: [number, number]; score: [number, number] }[] = [];
  for (const name of configs) {
    const measure = async () => {
      const harness = createStepHarness(name, { batch });
      await harness.train(0);
      const train = await count(() => harness.train(1));
      const score = await count(() => harness.score(0));
      harness.dispose();
      return { train, score };
    };
    uninstallWebGpuFusedKernels();
    const composed = await measure();
    installWebGpuFusedKernels();
    const fused = await measure();
    steps.push({
      config: name,
      batch,
      train: [composed.train, fused.train],
      score: [composed.score, fused.score],
    });
  }

  const results = {
    bench: "pqm-model-webgpu-launches",
    date: new Date().toISOString(),
    command: process.argv.map((part) => (/\s/.test(part) ? JSON.stringify(part) : part)).join(" "),
    machine: {
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      cpu: os.cpus()[0]?.model ?? "unknown",
      node: process.version,
    },
    backend: selection.description,
    shapes: `the torch peer's S layer (hidden ${hidden}, ${heads} heads, ${kvHeads} kv heads, head size ${headDim}, intermediate ${intermediate}, sequence ${seq}) at batch ${batch}`,
    operations: rows,
    steps,
  };
  const lines = [
    `WebGPU kernel launches, ${results.date}`,
    "",
    `Backend: ${results.backend}. Machine: ${results.machine.os}, ${results.machine.cpu}, Node ${results.machine.node}.`,
    `Command: \`${results.command}\`. Shapes: ${results.shapes}.`,
    "",
    "| operation | composed: forward / backward | fused: forward / backward |",
    "|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.operation} | ${row.composed.forward} / ${row.composed.both - row.composed.forward} | ${row.fused.forward} / ${row.fused.both - row.fused.forward} |`,
    ),
    "",
    "Backward: the launches of forward and backward together less the forward's; it includes the gradient of the `tf.sum` that reduces the output to a scalar (a launch or two). The norm and AdamW have no backward: their counts are in the first column.",
    "",
    "| config | batch | launches per training step, composed / fused | per scoring pass, composed / fused |",
    "|---|---|---|---|",
    ...steps.map(
      (step) =>
        `| ${step.config} | ${step.batch} | ${step.train[0]} / ${step.train[1]} | ${step.score[0]} / ${step.score[1]} |`,
    ),
  ];
  const out = resolve(argument("--out") ?? "bench/results/webgpu-launches.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(out.replace(/\.json$/, ".md"), `${lines.join("\n")}\n`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `launch-counts: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
