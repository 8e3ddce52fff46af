// Micro benchmark of the decoder backbone: forward and forward+backward tokens/s for the torch-peer
// S and M configurations on wasm (1 and 2 threads) and cpu (S only), plus matmul GFLOP/s and the
// fast-matmul speed-up. Each backend/thread setting runs in its own child process, because the wasm
// thread count is fixed when the backend starts.
//   node --import tsx bench/backbone.bench.ts            (all settings; writes bench/results/backbone.json)
//   node --import tsx bench/backbone.bench.ts --child wasm 2   (one setting; prints JSON)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { createRandomDecoder } from "../src/backbone/create-random-decoder.js";
import type { DecoderBackbone } from "../src/backbone/decoder-backbone.js";
import { installFastWasmMatMul, uninstallFastWasmMatMul } from "../src/tfjs-backends/fast-wasm-matmul.js";
import { selectBackend } from "../src/tfjs-backends/select-backend.js";
import { CONFIGS, type ConfigName } from "./peer-configs.js";

const here = dirname(fileURLToPath(import.meta.url));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function timeIt(repeats: number, body: () => void): number {
  body(); // warm-up: kernel setup, XNNPACK operator packing
  const times: number[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    const start = performance.now();
    body();
    times.push(performance.now() - start);
  }
  return median(times);
}

function makeModel(name: ConfigName): DecoderBackbone {
  const c = CONFIGS[name];
  return createRandomDecoder(
    {
      model_type: "qwen2",
      vocab_size: c.vocab,
      hidden_size: c.hidden,
      intermediate_size: c.intermediate,
      num_hidden_layers: c.layers,
      num_attention_heads: c.heads,
      num_key_value_heads: c.kvHeads,
      tie_word_embeddings: false,
    },
    1,
  );
}

function measureModel(
  name: ConfigName,
  repeats: number,
  stockKernel = false,
): Record<string, number | string> {
  const c = CONFIGS[name];
  const model = makeModel(name);
  // After building: createRandomDecoder installs the fast kernel on wasm.
  if (stockKernel) uninstallFastWasmMatMul();
  const tokens = c.batch * c.seq;
  const inputIds = tf.randomUniformInt([c.batch, c.seq], 3, c.vocab, 2) as tf.Tensor2D;
  const head = tf.randomNormal([c.hidden], 0, 0.1, "float32", 3);
  const forwardMs = timeIt(repeats, () => {
    const hidden = model.forwardHidden({ inputIds });
    hidden.dataSync();
    hidden.dispose();
  });
  const forwardBackwardMs = timeIt(repeats, () => {
    // A value-head-like loss on the hidden states: what PRM training differentiates.
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(model.forwardHidden({ inputIds }), head)),
      model.trainableVariables,
    );
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  });
  tf.dispose([inputIds, head]);
  const parameters = model.parameterCount();
  model.dispose();
  if (stockKernel) installFastWasmMatMul();
  return {
    config: name,
    parameters,
    tokensPerStep: tokens,
    forwardMs: Math.round(forwardMs),
    forwardBackwardMs: Math.round(forwardBackwardMs),
    forwardTokensPerSecond: Math.round((tokens / forwardMs) * 1000),
    forwardBackwardTokensPerSecond: Math.round((tokens / forwardBackwardMs) * 1000),
    repeats,
  };
}

function matmulGflops(size: number, transposeA: boolean): number {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  const ms = timeIt(5, () => tf.matMul(a, b, transposeA, false).dataSync());
  tf.dispose([a, b]);
  return Math.round(((2 * size ** 3) / ms / 1e6) * 10) / 10;
}

async function child(backend: "wasm" | "cpu", threads: number): Promise<void> {
  const selection = await selectBackend({ backend, threads });
  const results: Record<string, unknown>[] = [];
  const configs: ConfigName[] = backend === "cpu" ? ["S"] : ["S", "M"];
  for (const name of configs) {
    process.stderr.write(`bench: ${backend} ${selection.threads} thread(s) ${name}\n`);
    const result = { backend, threads: selection.threads, ...measureModel(name, name === "S" ? 5 : 3) };
    results.push(result);
    process.stdout.write(`partial ${JSON.stringify(result)}\n`);
  }
  const extra: Record<string, unknown> = {
    matmul512Gflops: matmulGflops(512, false),
    matmul512TransposedAGflops: matmulGflops(512, true),
  };
  if (backend === "wasm" && threads === 1) {
    // The same S forward+backward with the stock kernel, for the fast kernel's speed-up.
    process.stderr.write("bench: wasm stock BatchMatMul S\n");
    const stock = measureModel("S", 2, true);
    extra.stockKernel = { backend, threads, ...stock };
    extra.stockMatmul512TransposedAGflops = (() => {
      uninstallFastWasmMatMul();
      const value = matmulGflops(512, true);
      installFastWasmMatMul();
      return value;
    })();
  }
  process.stdout.write(
    `${JSON.stringify({ backend, threads: selection.threads, description: selection.description, results, ...extra })}\n`,
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") {
    await child(args[1] as "wasm" | "cpu", Number(args[2] ?? "1"));
    return;
  }
  const settings: ["wasm" | "cpu", number][] = [
    ["wasm", 1],
    ["cpu", 1],
    ["wasm", 2],
  ];
  const runs: unknown[] = [];
  for (const [backend, threads] of settings) {
    try {
      const output = execFileSync(
        process.execPath,
        ["--import", "tsx", fileURLToPath(import.meta.url), "--child", backend, String(threads)],
        // The 2-thread shim has hung here (see docs/backbone.md): bound every child.
        {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
          maxBuffer: 16 * 1024 * 1024,
          timeout: 420_000,
        },
      );
      runs.push(JSON.parse(output.trim().split("\n").pop() as string));
    } catch (error) {
      const partial = (error as { stdout?: string }).stdout ?? "";
      runs.push({
        backend,
        threads,
        error: (error as Error).message.split("\n")[0],
        partialOutput: partial.slice(-2000),
      });
    }
  }
  const report = {
    generated: new Date().toISOString(),
    command: "cd packages/model && node --import tsx bench/backbone.bench.ts",
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      logicalCores: os.cpus().length,
      loadAverageAtEnd: os.loadavg().map((load) => Math.round(load * 100) / 100),
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
    },
    note: "forward = forwardHidden (no LM head); forward+backward = gradients of a value-head-like loss w.r.t. every weight (no optimizer step). Medians after one warm-up. Shared 2-core machine: see loadAverageAtEnd.",
    configs: CONFIGS,
    runs,
  };
  const outputPath = join(here, "results", "backbone.json");
  mkdirSync(dirname(outputPath), { recursive: true });
  writeFileSync(outputPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${outputPath}\n`);
}

await main();
