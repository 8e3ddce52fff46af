import { registerGradients } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { tryInstallOnnxMatMul, uninstallOnnxMatMul } from "../onnx/runtime-matmul.js";
import { isModuleNotFound, MissingPeerDependencyError } from "../optional-peers.js";
import { installFastWasmMatMul } from "./fast-wasm-matmul.js";
import { installWasmHostKernels } from "./wasm-host-kernels.js";
import { installSharedWasmIdentity } from "./wasm-identity.js";
import { initializeWasmBackend, prepareWasmThreads } from "./wasm-threads.js";
import type { WebGpuAdapterInfo } from "./webgpu-backend.js";
import {
  describeAdapter,
  linuxGpuDeviceNode,
  probeWebGpuInChildProcess,
  startWebGpuBackend,
  VULKAN_DRIVER_HINT,
  webGpuPackagesMissing,
} from "./webgpu-backend.js";

/**
 * Backends in order of preference; `tensorflow-gpu` / `tensorflow` are tfjs-node(-gpu), `webgpu` is
 * `@tensorflow/tfjs-backend-webgpu` on Dawn's Node bindings (`webgpu`), chosen automatically only on a
 * hardware adapter.
 */
export const BACKEND_PREFERENCE = ["tensorflow-gpu", "webgpu", "tensorflow", "wasm", "cpu"] as const;
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
  /**
   * Told when the selection falls short of what it could be, e.g. that onnxruntime-node is missing so
   * wasm computes its own matrix products. Default: nothing is said (the selection's `skipped` lists it).
   */
  onWarning?: (message: string) => void;
  /** Loads an optional package; default dynamic `import()`. Tests replace it. */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** Who computes the wasm backend's matrix products; see {@link SelectBackendOptions.matmul}. */
export type WasmMatMulChoice = "auto" | "onnxruntime" | "wasm";

/** What `selectBackend` chose. */
export interface BackendSelection {
  backend: BackendChoice;
  /** The TF.js backend name now active (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  tfBackend: string;
  /** On webgpu: the adapter it runs on (`software` for a CPU implementation such as lavapipe). */
  adapter?: WebGpuAdapterInfo;
  /** Threads doing the work on wasm: the wasm backend's, or ONNX Runtime's when it computes the matmuls (1 elsewhere). */
  threads: number;
  /** Who computes the matrix products: ONNX Runtime (wasm only) or the backend itself. */
  matmul: "onnxruntime" | "backend";
  /**
   * What runs, for a log line, without a verb (the caller knows whether it trains or scores), e.g.
   * `wasm (SIMD, matmuls on ONNX Runtime, 1 thread)`, `tensorflow (tfjs-node-gpu, CUDA)` or
   * `webgpu (nvidia NVIDIA H200)`.
   */
  description: string;
  /** How to get a faster backend, e.g. `install @tensorflow/tfjs-node-gpu for CUDA`; null on a GPU. */
  advice: string | null;
  /** Why the faster backends were skipped, by package. */
  skipped: Record<string, string>;
}

const nativePackages: Record<
  "tensorflow-gpu" | "tensorflow",
  "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node"
> = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
};

const CUDA_ADVICE = "install @tensorflow/tfjs-node-gpu for CUDA";
const SOFTWARE_ADAPTER_ADVICE =
  "this WebGPU adapter is a CPU implementation, for correctness checks: the wasm backend is faster here";

let current: BackendSelection | undefined;

function parseBackend(value: string | undefined): BackendChoice | undefined {
  if (value === undefined || value === "") return undefined;
  const aliases: Record<string, BackendChoice> = {
    "node-gpu": "tensorflow-gpu",
    gpu: "tensorflow-gpu",
    node: "tensorflow",
  };
  // (`webgpu` is its own name.)
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

/**
 * Registers tfjs-core's gradients (through @pqm/core), then chooses and activates the TF.js backend once
 * per process: `@tensorflow/tfjs-node-gpu`, then `webgpu` on a hardware WebGPU adapter (never a
 * software one such as lavapipe), then `@tensorflow/tfjs-node` (optional peers, loaded only if
 * installed), then wasm (with the fast BatchMatMul kernel, and ONNX Runtime's matrix products when
 * onnxruntime-node is installed), then cpu. `options.backend` / `PQM_BACKEND` force one (a forced
 * `webgpu` also takes a software adapter). Prints nothing: the selection's `description` and `advice`
 * are for the caller's log line, and `options.onWarning` hears about fallbacks. Later calls return
 * the first selection.
 * @throws Error when a forced backend cannot start (MissingPeerDependencyError names the package to
 *   install; a forced webgpu without an adapter says so) or an environment variable is malformed.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  if (current !== undefined) return current;
  registerGradients();
  const forced = options.backend ?? parseBackend(process.env.PQM_BACKEND);
  const threads = options.threads ?? parseThreads(process.env.PQM_WASM_THREADS) ?? 1;
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
        const reason = isModuleNotFound(error, specifier)
          ? "not installed"
          : `failed to load: ${(error as Error).message}`;
        if (forced !== undefined)
          throw new MissingPeerDependencyError(specifier, `PQM_BACKEND=${forced}`, { cause: error });
        skipped[specifier] = reason;
        continue;
      }
      current = {
        backend: candidate,
        tfBackend: "tensorflow",
        threads: 1,
        matmul: "backend",
        description:
          candidate === "tensorflow-gpu"
            ? "tensorflow (tfjs-node-gpu, CUDA)"
            : "tensorflow (tfjs-node, native CPU)",
        advice: candidate === "tensorflow-gpu" ? null : CUDA_ADVICE,
        skipped,
      };
    } else if (candidate === "webgpu") {
      // The automatic choice looks for a hardware adapter from a child process first (see
      // probeWebGpuInChildProcess): a machine without one never loads Dawn here.
      if (forced === undefined && options.importModule === undefined) {
        // Without a GPU device node Linux has no hardware adapter: no probe needed (CPU machines, CI).
        const missing = webGpuPackagesMissing();
        const noDevice = process.platform === "linux" && linuxGpuDeviceNode() === null;
        const probe = missing !== null || noDevice ? null : await probeWebGpuInChildProcess();
        const reason =
          probe === null
            ? missing !== null
              ? `not installed (${missing})`
              : "no GPU device (/dev/dri/renderD*, /dev/nvidiactl, /dev/dxg)"
            : probe.kind === "not-installed"
              ? `not installed (${probe.packageName})`
              : probe.kind === "no-adapter"
                ? `no WebGPU adapter: ${VULKAN_DRIVER_HINT}`
                : probe.kind === "failed"
                  ? probe.message
                  : probe.adapter.software
                    ? `only a software WebGPU adapter (${describeAdapter(probe.adapter)}), slower than wasm; choose the webgpu backend explicitly to use it`
                    : null;
        if (reason !== null) {
          skipped.webgpu = reason;
          continue;
        }
      }
      let adapter: WebGpuAdapterInfo;
      try {
        adapter = await startWebGpuBackend({
          allowSoftware: forced !== undefined,
          importModule,
          feature: forced === undefined ? "the webgpu backend" : `PQM_BACKEND=${forced}`,
          ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
        });
      } catch (error) {
        if (forced !== undefined) throw error;
        skipped.webgpu =
          error instanceof MissingPeerDependencyError && isModuleNotFound(error.cause, error.packageName)
            ? `not installed (${error.packageName})`
            : (error as Error).message;
        continue;
      }
      current = {
        backend: "webgpu",
        tfBackend: "webgpu",
        adapter,
        threads: 1,
        matmul: "backend",
        description: `webgpu (${adapter.software ? "software adapter: " : ""}${describeAdapter(adapter)})`,
        advice: adapter.software ? SOFTWARE_ADAPTER_ADVICE : null,
        skipped,
      };
    } else if (candidate === "wasm") {
      const matmulChoice = options.matmul ?? parseMatMul(process.env.PQM_WASM_MATMUL) ?? "auto";
      // With ONNX Runtime doing the products the threads go to it: the threaded wasm build's shared
      // heap would force a copy of every operand, and its idle threads compete for the cores.
      const wasmThreads = matmulChoice === "wasm" ? threads : 1;
      await prepareWasmThreads(wasmThreads);
      let actual = await initializeWasmBackend();
      installFastWasmMatMul();
      installSharedWasmIdentity();
      installWasmHostKernels();
      let matmul: "onnxruntime" | "backend" = "backend";
      if (matmulChoice === "wasm") uninstallOnnxMatMul();
      else {
        const reason = await tryInstallOnnxMatMul({ threads, spinning: threads === 1 }, importModule);
        if (reason === null) {
          matmul = "onnxruntime";
          actual = threads;
        } else if (matmulChoice === "onnxruntime") {
          throw new Error(`PQM_WASM_MATMUL=onnxruntime: ${reason}`);
        } else {
          const threadNote = threads > 1 ? ` on 1 thread, not ${threads}` : "";
          skipped["onnxruntime-node"] = threads > 1 ? `${reason}; wasm runs 1 thread` : reason;
          options.onWarning?.(
            `the wasm backend computes its own matrix products (2-3x slower than ONNX Runtime's)${threadNote}: ${reason}`,
          );
        }
      }
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
      const what =
        matmul === "onnxruntime"
          ? `${simd ? "SIMD" : "no SIMD"}, matmuls on ONNX Runtime, ${actual} thread${actual === 1 ? "" : "s"}`
          : `${simd ? "SIMD" : "no SIMD"}, ${actual} thread${actual === 1 ? "" : "s"}`;
      current = {
        backend: "wasm",
        tfBackend: "wasm",
        threads: actual,
        matmul,
        description: `wasm (${what})`,
        advice: CUDA_ADVICE,
        skipped,
      };
    } else {
      await import("@tensorflow/tfjs-backend-cpu");
      if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not start");
      await tf.ready();
      current = {
        backend: "cpu",
        tfBackend: "cpu",
        threads: 1,
        matmul: "backend",
        description: "cpu (pure JavaScript, about 30x slower than wasm)",
        advice: CUDA_ADVICE,
        skipped,
      };
    }
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
