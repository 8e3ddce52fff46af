// The PRM training step and scoring pass of @pqm/model on WebGPU against the PyTorch peer in one run:
// the S, M and L shapes of the peer (see ../peer-configs.ts), timed on the webgpu backend, then the peer
// on its device (CUDA by default: PyTorch float32, eager), and the ratios.
//
//   node --import tsx bench/webgpu/webgpu-bench.ts [--configs S,M,L] [--peer <torch_prm_step.py>]
//        [--python python3] [--peer-device cuda|cpu] [--no-peer] [--steps 10] [--warmup 3]
//        [--agreement-steps 5] [--label h200] [--out bench/results/webgpu-h200.json] [--variants no-attention,none]
//
// or, on a machine with nothing but a Node binary, the bundle `node webgpu-bench.mjs ...` that
// `node bench/webgpu/build.mjs` writes (see bench/webgpu/README.md). The peer's script comes from
// `--peer` or `PQM_TORCH_PEER` (or `$PQM_SHARED_DIR/bench/torch-peer/torch_prm_step.py`); its
// interpreter from `--python` or `PQM_PEER_PYTHON` (default python3).
//
// A training step is forward, PQM loss (zeta 4), backward, global-norm clip 1.0 and AdamW (lr 1e-4),
// read back once (the losses and the gradient norm, asynchronously, as trainPrm does), so each timed
// step has finished on the device; a scoring pass is forward and value head, its scores read back.
// Before the timings, the S architecture (batch 4, sequence 64) trains `--agreement-steps` steps on
// cpu and on webgpu from the same weights: the losses must agree within 2e-3 (relative), or the
// bench fails. Each configuration is timed on webgpu with the fused WGSL kernels PQM_WEBGPU_FUSED
// asks for (default all), then with each of `--variants` (default `no-attention,none`: without the
// attention kernels, and TF.js's composed operations throughout; `--variants ""` for none), and the
// kernel launches of a step are counted. Writes `<out>` (JSON: machine, adapter, versions, date, the exact command, every
// figure) and `<out without .json>.md` (the table).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  type BackendSelection,
  resetBackendSelection,
  selectBackend,
} from "../../src/tfjs-backends/select-backend.js";
import {
  fusedKernelsFromEnvironment,
  installWebGpuFusedKernels,
  uninstallWebGpuFusedKernels,
} from "../../src/tfjs-backends/webgpu-fused-kernels.js";
import { argument } from "../bench-args.js";
import { CONFIGS, type ConfigName, median } from "../peer-configs.js";
import { createStepHarness } from "../prm-step.js";

const AGREEMENT_TOLERANCE = 2e-3;

function log(line: string): void {
  process.stderr.write(`webgpu-bench: ${line}\n`);
}

// Literal specifiers, so that a bundler includes tfjs-backend-webgpu (it must share this tfjs-core)
// and leaves `webgpu` (a native module) to be loaded from node_modules beside the bundle.
const importModule = (specifier: string): Promise<unknown> =>
  specifier === "webgpu"
    ? import("webgpu")
    : specifier === "@tensorflow/tfjs-backend-webgpu"
      ? import("@tensorflow/tfjs-backend-webgpu")
      : import(specifier);

async function useWebGpu(): Promise<BackendSelection> {
  resetBackendSelection();
  return selectBackend({ backend: "webgpu", importModule });
}

async function useCpu(): Promise<void> {
  resetBackendSelection();
  await selectBackend({ backend: "cpu", importModule });
}

/** Losses of `steps` training steps of S's architecture (batch 4, sequence 64) on the active backend. */
async function agreementLosses(steps: number): Promise<number[]> {
  const harness = createStepHarness("S", { batch: 4, seq: 64 });
  const losses: number[] = [];
  for (let index = 0; index < steps; index++) losses.push(await harness.train(index));
  harness.dispose();
  return losses;
}

interface Timed {
  msMedian: number;
  tokensPerSecond: number;
  ms: number[];
}

function timed(times: number[], tokens: number): Timed {
  const ms = median(times);
  return {
    msMedian: Math.round(ms * 100) / 100,
    tokensPerSecond: Math.round(tokens / (ms / 1000)),
    ms: times,
  };
}

/**
 * Kernel launches of `work` on the webgpu backend: every launch (tfjs-backend-webgpu's programs and
 * the fused kernels) binds its buffers through one `createBindGroup`, so counting those counts them.
 */
async function countLaunches(work: () => Promise<unknown>): Promise<number> {
  const device = (tf.backend() as unknown as { device: { createBindGroup: (...args: unknown[]) => unknown } })
    .device;
  const original = device.createBindGroup;
  let launches = 0;
  device.createBindGroup = (...args: unknown[]) => {
    launches++;
    return original.apply(device, args);
  };
  try {
    await work();
  } finally {
    device.createBindGroup = original;
  }
  return launches;
}

async function measureWebGpu(name: ConfigName, warmup: number, steps: number) {
  const harness = createStepHarness(name);
  const tokens = harness.shape.batch * harness.shape.seq;
  const trainTimes: number[] = [];
  const losses: number[] = [];
  for (let index = 0; index < warmup + steps; index++) {
    const start = performance.now();
    losses.push(await harness.train(index));
    const ms = performance.now() - start;
    if (index >= warmup) trainTimes.push(ms);
    log(
      `${name} train ${index + 1}/${warmup + steps}${index < warmup ? " (warm-up)" : ""} ${ms.toFixed(1)} ms`,
    );
  }
  const scoreTimes: number[] = [];
  for (let index = 0; index < warmup + steps; index++) {
    const start = performance.now();
    await harness.score(index);
    const ms = performance.now() - start;
    if (index >= warmup) scoreTimes.push(ms);
  }
  const launches = {
    train: await countLaunches(() => harness.train(warmup + steps)),
    score: await countLaunches(() => harness.score(0)),
  };
  const parameters = harness.parameters;
  harness.dispose();
  return {
    parameters,
    launches,
    train: timed(trainTimes, tokens),
    score: timed(scoreTimes, tokens),
    lossFirst: losses[0],
    lossLast: losses.at(-1),
  };
}

function peerScript(): string | null {
  const given = argument("--peer") ?? process.env.PQM_TORCH_PEER;
  if (given !== undefined && given !== "") return resolve(given);
  if (process.env.PQM_SHARED_DIR)
    return resolve(process.env.PQM_SHARED_DIR, "bench", "torch-peer", "torch_prm_step.py");
  return null;
}

function runPeer(script: string, name: ConfigName, device: string, warmup: number, steps: number) {
  const shape = CONFIGS[name];
  const python = argument("--python") ?? process.env.PQM_PEER_PYTHON ?? "python3";
  const args = [
    script,
    ...["--vocab", shape.vocab, "--hidden", shape.hidden, "--layers", shape.layers, "--heads", shape.heads],
    ...["--kv-heads", shape.kvHeads, "--intermediate", shape.intermediate, "--seq", shape.seq],
    ...["--batch", shape.batch, "--threads", 1, "--steps", steps, "--warmup", warmup],
    ...["--device", device, "--tag", name],
  ].map(String);
  log(`${name} peer: ${python} ${args.join(" ")}`);
  const child = spawnSync(python, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const line = child.stdout?.trim().split("\n").at(-1);
  if (child.status !== 0 || line === undefined || !line.startsWith("{")) {
    const why = (child.stderr ?? "").trim().split("\n").slice(-3).join(" | ") || child.error?.message;
    return { command: `${python} ${args.join(" ")}`, error: `exit ${child.status}: ${why}` };
  }
  return { command: `${python} ${args.join(" ")}`, result: JSON.parse(line) as Record<string, unknown> };
}

function packageVersion(name: string): string | null {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  tf.env().set("PROD", true); // TF.js's console banner stays out of the output
  const configs = (argument("--configs") ?? "S,M,L").split(",").map((name) => {
    if (!(name in CONFIGS)) throw new Error(`--configs: unknown configuration ${name} (S, M or L)`);
    return name as ConfigName;
  });
  const steps = Number(argument("--steps") ?? 10);
  const warmup = Number(argument("--warmup") ?? 3);
  const agreementSteps = Number(argument("--agreement-steps") ?? 5);
  const peerDevice = argument("--peer-device") ?? "cuda";
  const label = argument("--label") ?? "";
  const out = resolve(argument("--out") ?? `bench/results/webgpu${label ? `-${label}` : ""}.json`);
  const script = process.argv.includes("--no-peer") ? null : peerScript();
  const fusedChoice = process.env.PQM_WEBGPU_FUSED || "all";
  const leverVariants = (argument("--variants") ?? "no-attention,none")
    .split(",")
    .filter((variant) => variant !== "" && variant !== fusedChoice);
  for (const variant of leverVariants) fusedKernelsFromEnvironment(variant); // fails early on a typo
  const started = new Date();
  const loadBefore = os.loadavg();

  // 1. Agreement with cpu (the reference backend), S's architecture on a small batch.
  await useCpu();
  const cpuLosses = await agreementLosses(agreementSteps);
  const selection = await useWebGpu();
  log(`running on ${selection.description}`);
  const gpuLosses = await agreementLosses(agreementSteps);
  const worst = Math.max(
    ...gpuLosses.map((loss, index) => Math.abs(loss - cpuLosses[index]!) / Math.abs(cpuLosses[index]!)),
  );
  log(`agreement over ${agreementSteps} steps: largest relative loss difference ${worst.toExponential(2)}`);

  // 2. Speed, per configuration: webgpu, then the peer.
  const rows = [];
  for (const name of configs) {
    log(`${name}: webgpu`);
    const webgpu = await measureWebGpu(name, warmup, steps);
    // The levers of the fused WGSL kernels: the same measurement without the attention kernels and with
    // TF.js's composed operations throughout (PQM_WEBGPU_FUSED's other values).
    const variants: { name: string; result: Awaited<ReturnType<typeof measureWebGpu>> }[] = [];
    for (const variant of leverVariants) {
      log(`${name}: webgpu, PQM_WEBGPU_FUSED=${variant}`);
      uninstallWebGpuFusedKernels();
      installWebGpuFusedKernels(fusedKernelsFromEnvironment(variant));
      variants.push({ name: variant, result: await measureWebGpu(name, warmup, steps) });
    }
    uninstallWebGpuFusedKernels();
    installWebGpuFusedKernels(fusedKernelsFromEnvironment(process.env.PQM_WEBGPU_FUSED));
    const peer = script === null ? null : runPeer(script, name, peerDevice, warmup, steps);
    const peerResult = peer !== null && "result" in peer ? peer.result : null;
    const peerTrain = (peerResult?.train_tokens_per_s as number | undefined) ?? null;
    const peerScore = (peerResult?.score_tokens_per_s as number | undefined) ?? null;
    rows.push({
      config: name,
      shape: CONFIGS[name],
      tokensPerStep: CONFIGS[name].batch * CONFIGS[name].seq,
      webgpu,
      variants,
      peer,
      trainRatio:
        peerTrain === null ? null : Math.round((webgpu.train.tokensPerSecond / peerTrain) * 1000) / 1000,
      scoreRatio:
        peerScore === null ? null : Math.round((webgpu.score.tokensPerSecond / peerScore) * 1000) / 1000,
    });
  }

  const peerDescription =
    script === null
      ? "none (pass --peer <torch_prm_step.py> or set PQM_TORCH_PEER)"
      : `PyTorch, device ${peerDevice}, float32 eager (${script})`;
  const results = {
    bench: "pqm-model-webgpu",
    label,
    fused: fusedChoice,
    date: started.toISOString(),
    command: process.argv.map((part) => (/\s/.test(part) ? JSON.stringify(part) : part)).join(" "),
    cwd: process.cwd(),
    machine: {
      hostname: os.hostname(),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      // Other work on the machine skews both sides; the 1-minute load before and after the run.
      loadAverage1m: {
        before: Math.round(loadBefore[0]! * 100) / 100,
        after: Math.round(os.loadavg()[0]! * 100) / 100,
      },
    },
    backend: { description: selection.description, adapter: selection.adapter, advice: selection.advice },
    versions: {
      "@tensorflow/tfjs-core": tf.version_core,
      "@tensorflow/tfjs-backend-webgpu": packageVersion("@tensorflow/tfjs-backend-webgpu"),
      webgpu: packageVersion("webgpu"),
    },
    peer: {
      description: peerDescription,
      device: peerResult(rows)?.device ?? null,
      torch: peerResult(rows)?.torch ?? null,
    },
    workload:
      "training: forward + PQM loss (zeta 4) + backward + global-norm clip 1.0 + dense AdamW (lr 1e-4), 8 step tags per sequence, random tokens, monotone labels, one asynchronous read per step; scoring: forward + value head, scores read back. Medians of the timed steps after warm-up.",
    steps,
    warmup,
    agreement: {
      steps: agreementSteps,
      cpu: cpuLosses,
      webgpu: gpuLosses,
      largestRelativeDifference: worst,
      tolerance: AGREEMENT_TOLERANCE,
    },
    rows,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${out.replace(/\.json$/, "")}.md`, markdown(results));
  process.stdout.write(markdown(results));
  if (!(worst <= AGREEMENT_TOLERANCE)) {
    log(
      `FAILED: webgpu's losses differ from cpu's by ${worst.toExponential(2)} (tolerance ${AGREEMENT_TOLERANCE})`,
    );
    process.exitCode = 1;
  }
}

function peerResult(
  rows: { peer: { result?: Record<string, unknown> } | null }[],
): Record<string, unknown> | null {
  for (const row of rows) if (row.peer?.result !== undefined) return row.peer.result;
  return null;
}

function markdown(results: {
  label: string;
  fused: string;
  date: string;
  command: string;
  machine: {
    os: string;
    cpu: string;
    cores: number;
    node: string;
    loadAverage1m: { before: number; after: number };
  };
  backend: { description: string };
  peer: { description: string; device: unknown; torch: unknown };
  agreement: { steps: number; largestRelativeDifference: number };
  rows: {
    config: string;
    webgpu: { train: Timed; score: Timed; parameters: number; launches: { train: number; score: number } };
    variants: {
      name: string;
      result: { train: Timed; score: Timed; launches: { train: number; score: number } };
    }[];
    peer: { result?: Record<string, unknown>; error?: string } | null;
    trainRatio: number | null;
    scoreRatio: number | null;
  }[];
}): string {
  const number = (value: unknown) =>
    typeof value === "number" ? Math.round(value).toLocaleString("en-US") : "-";
  const lines = [
    `WebGPU benchmark${results.label ? ` (${results.label})` : ""}, ${results.date}`,
    "",
    `Machine: ${results.machine.os}, ${results.machine.cpu} (${results.machine.cores} cores), Node ${results.machine.node}; load average ${results.machine.loadAverage1m.before} before, ${results.machine.loadAverage1m.after} after.`,
    `Backend: ${results.backend.description}. Peer: ${results.peer.description}${results.peer.device ? `, ${results.peer.device}` : ""}${results.peer.torch ? `, torch ${results.peer.torch}` : ""}.`,
    `Command: \`${results.command}\`.`,
    `Agreement with cpu over ${results.agreement.steps} training steps (S architecture, batch 4 x 64): largest relative loss difference ${results.agreement.largestRelativeDifference.toExponential(1)}.`,
    "",
    "| config | parameters | train tokens/s, webgpu | peer | ratio | score tokens/s, webgpu | peer | ratio |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const row of results.rows) {
    const peer = row.peer?.result;
    lines.push(
      `| ${row.config} | ${number(row.webgpu.parameters)} | ${number(row.webgpu.train.tokensPerSecond)} | ${number(peer?.train_tokens_per_s)} | ${row.trainRatio === null ? "-" : `${row.trainRatio}x`} | ${number(row.webgpu.score.tokensPerSecond)} | ${number(peer?.score_tokens_per_s)} | ${row.scoreRatio === null ? "-" : `${row.scoreRatio}x`} |`,
    );
    if (row.peer?.error) lines.push(`| | peer failed: ${row.peer.error.replace(/\|/g, "/")} | | | | | | |`);
  }
  lines.push(
    "",
    `The fused WGSL kernels' levers (same run; PQM_WEBGPU_FUSED=${results.fused} above): kernel launches per training step and scoring pass, and tokens/s.`,
    "",
    "| config | PQM_WEBGPU_FUSED | launches per training step | train tokens/s | launches per scoring pass | score tokens/s |",
    "|---|---|---|---|---|---|",
  );
  for (const row of results.rows) {
    for (const { name, result } of [{ name: results.fused, result: row.webgpu }, ...row.variants]) {
      lines.push(
        `| ${row.config} | ${name} | ${result.launches.train} | ${number(result.train.tokensPerSecond)} | ${result.launches.score} | ${number(result.score.tokensPerSecond)} |`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `webgpu-bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
