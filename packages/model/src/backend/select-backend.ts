import * as tf from "@tensorflow/tfjs-core";
import { installFastWasmMatMul } from "./fast-wasm-matmul.js";
import { installOnnxMatMul, uninstallOnnxMatMul } from "./onnx-matmul.js";
import { registerTfjsGradients } from "./register-gradients.js";
import { installSharedWasmIdentity } from "./wasm-identity.js";
import { initialiseWasmBackend, prepareWasmThreads } from "./wasm-threads.js";

/** Backends in order of preference; `tensorflow-gpu` / `tensorflow` are tfjs-node(-gpu). */
export const BACKEND_PREFERENCE = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"] as const;
/** A backend `selectBackend` can choose. */
export type BackendChoice = (typeof BACKEND_PREFERENCE)[number];

/** Options of `selectBackend`; each falls back to an environment variable, then a default. */
export interface SelectBackendOptions {
  /** Force a backend (env `PQM_BACKEND`); default: the fastest installed. */
  backend?: BackendChoice;
  /** wasm threads (env `PQM_WASM_THREADS`); default 1. More than 1 uses the experimental shim. */
  threads?: number;
  /**
   * Who computes the wasm backend's matrix products (env `PQM_WASM_MATMUL`): `onnxruntime` (ONNX
   * Runtime's kernels through onnxruntime-node, 2-3x faster per core), `wasm` (the backend's own), or
   * `auto` (default: onnxruntime when onnxruntime-node is installed and passes a self-check, else wasm).
   * With onnxruntime the wasm backend itself keeps one thread and `threads` goes to ONNX Runtime.
   */
  matmul?: WasmMatMulChoice;
  /** Where the one-line report goes; default stderr. Pass `() => {}` to silence it. */
  log?: (line: string) => void;
  /** Loads an optional package; default dynamic `import()`. Tests replace it. */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** Who computes the wasm backend's matrix products; see {@link SelectBackendOptions.matmul}. */
export type WasmMatMulChoice = "auto" | "onnxruntime" | "wasm";

/** What `selectBackend` chose. */
export interface BackendSelection {
  backend: BackendChoice;
  /** The TF.js backend name now active (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Threads doing the work on wasm: the wasm backend's, or ONNX Runtime's when it computes the matmuls (1 elsewhere). */
  threads: number;
  /** Who computes the matrix products: ONNX Runtime (wasm only) or the backend itself. */
  matmul: "onnxruntime" | "backend";
  /** The line that was logged. */
  description: string;
  /** Why the faster backends were skipped, by package. */
  skipped: Record<string, string>;
}

const nativePackages: Record<"tensorflow-gpu" | "tensorflow", string> = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
};

let current: BackendSelection | undefined;

function parseBackend(value: string | undefined): BackendChoice | undefined {
  if (value === undefined || value === "") return undefined;
  const aliases: Record<string, BackendChoice> = {
    "node-gpu": "tensorflow-gpu",
    gpu: "tensorflow-gpu",
    node: "tensorflow",
  };
  const choice = aliases[value] ?? value;
  if (!(BACKEND_PREFERENCE as readonly string[]).includes(choice)) {
    throw new Error(
      `PQM_BACKEND=${value} is not a backend; use one of ${BACKEND_PREFERENCE.join(", ")} (or node-gpu, node)`,
    );
  }
  return choice as BackendChoice;
}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`PQM_WASM_THREADS=${value} must be a positive integer`);
  return threads;
}

function parseMatMul(value: string | undefined): WasmMatMulChoice | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "auto" || value === "onnxruntime" || value === "wasm") return value;
  throw new Error(`PQM_WASM_MATMUL=${value} must be auto, onnxruntime or wasm`);
}

function isNotFound(error: unknown, specifier: string): boolean {
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  // Node says ERR_MODULE_NOT_FOUND; bundlers and vite's runner word it their own way.
  const notFound =
    code === "ERR_MODULE_NOT_FOUND" ||
    code === "MODULE_NOT_FOUND" ||
    /Cannot find (package|module)|Could not resolve|Failed to (load|resolve)/.test(message);
  return notFound && message.includes(specifier);
}

/**
 * Registers tfjs-core's gradients, then chooses and activates the TF.js backend once per process: `@tensorflow/tfjs-node-gpu`, then
 * `@tensorflow/tfjs-node` (optional peers, loaded only if installed), then wasm (with the fast
 * BatchMatMul kernel installed), then cpu. `options.backend` / `PQM_BACKEND` force one. Logs one
 * line such as `training on wasm (SIMD, matmuls on ONNX Runtime, 1 thread); install @tensorflow/tfjs-node-gpu for CUDA`.
 * Later calls return the first selection.
 * @throws Error when a forced backend cannot start (the message names the package to install) or
 *   an environment variable is malformed.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  if (current !== undefined) return current;
  await registerTfjsGradients();
  const forced = options.backend ?? parseBackend(process.env.PQM_BACKEND);
  const threads = options.threads ?? parseThreads(process.env.PQM_WASM_THREADS) ?? 1;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const importModule = options.importModule ?? ((specifier: string) => import(specifier));
  const skipped: Record<string, string> = {};
  const candidates = forced === undefined ? BACKEND_PREFERENCE : [forced];

  for (const candidate of candidates) {
    if (candidate === "tensorflow-gpu" || candidate === "tensorflow") {
      const specifier = nativePackages[candidate];
      try {
        await importModule(specifier);
        if (!(await tf.setBackend("tensorflow"))) throw new Error("the tensorflow backend did not start");
        await tf.ready();
      } catch (error) {
        const reason = isNotFound(error, specifier)
          ? "not installed"
          : `failed to load: ${(error as Error).message}`;
        if (forced !== undefined)
          throw new Error(
            `PQM_BACKEND=${forced}: ${specifier} ${reason}; install it with its native library`,
          );
        skipped[specifier] = reason;
        continue;
      }
      const description =
        candidate === "tensorflow-gpu"
          ? "training on tensorflow (tfjs-node-gpu, CUDA)"
          : "training on tensorflow (tfjs-node, native CPU); install @tensorflow/tfjs-node-gpu for CUDA";
      current = {
        backend: candidate,
        tfBackend: "tensorflow",
        threads: 1,
        matmul: "backend",
        description,
        skipped,
      };
    } else if (candidate === "wasm") {
      const matmulChoice = options.matmul ?? parseMatMul(process.env.PQM_WASM_MATMUL) ?? "auto";
      // With ONNX Runtime doing the products the threads go to it: the threaded wasm build's shared
      // heap would force a copy of every operand, and its idle threads compete for the cores.
      const wasmThreads = matmulChoice === "wasm" ? threads : 1;
      await prepareWasmThreads(wasmThreads);
      let actual = await initialiseWasmBackend();
      installFastWasmMatMul();
      installSharedWasmIdentity();
      let matmul: "onnxruntime" | "backend" = "backend";
      if (matmulChoice === "wasm") uninstallOnnxMatMul();
      else {
        const installed = await installOnnxMatMul({ threads, spinning: threads === 1 });
        if (installed) {
          matmul = "onnxruntime";
          actual = threads;
        } else if (matmulChoice === "onnxruntime") {
          throw new Error(
            "PQM_WASM_MATMUL=onnxruntime: onnxruntime-node is not installed or failed its self-check; install onnxruntime-node@1.30.0",
          );
        } else if (threads > 1) {
          skipped["onnxruntime-node"] = "not installed or failed its self-check; wasm runs 1 thread";
        }
      }
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
      const what =
        matmul === "onnxruntime"
          ? `${simd ? "SIMD" : "no SIMD"}, matmuls on ONNX Runtime, ${actual} thread${actual === 1 ? "" : "s"}`
          : `${simd ? "SIMD" : "no SIMD"}, ${actual} thread${actual === 1 ? "" : "s"}`;
      const description = `training on wasm (${what}); install @tensorflow/tfjs-node-gpu for CUDA`;
      current = { backend: "wasm", tfBackend: "wasm", threads: actual, matmul, description, skipped };
    } else {
      await import("@tensorflow/tfjs-backend-cpu");
      if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not start");
      await tf.ready();
      const description =
        "training on cpu (pure JavaScript, about 30x slower than wasm); install @tensorflow/tfjs-node-gpu for CUDA";
      current = { backend: "cpu", tfBackend: "cpu", threads: 1, matmul: "backend", description, skipped };
    }
    log(current.description);
    return current;
  }
  throw new Error("no TF.js backend could start");
}

/** The selection made by `selectBackend`, if any. */
export function currentBackendSelection(): BackendSelection | undefined {
  return current;
}

/** Forgets the selection so the next `selectBackend` chooses again (tests). */
export function resetBackendSelection(): void {
  current = undefined;
}
