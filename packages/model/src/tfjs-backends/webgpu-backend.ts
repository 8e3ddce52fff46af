// TF.js on a GPU through WebGPU in Node: the optional peers `webgpu` (Dawn's Node bindings, with its
// prebuilt native module inside the npm package) and `@tensorflow/tfjs-backend-webgpu`. The backend
// registers itself only when `navigator.gpu` exists, so `navigator.gpu` is set from `webgpu` first.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { isModuleNotFound, MissingPeerDependencyError } from "../optional-peers.js";
import {
  fusedKernelsFromEnvironment,
  installWebGpuFusedKernels,
  missingWebGpuInternals,
  uninstallWebGpuFusedKernels,
} from "./webgpu-fused-kernels.js";
import { installWebGpuSoftmax } from "./webgpu-softmax.js";

/** What the WebGPU adapter says of itself (`adapter.info`). */
export interface WebGpuAdapterInfo {
  /** e.g. `nvidia`, `amd`, `intel`, `mesa`. */
  vendor: string;
  /** e.g. `ampere`, or `software` for a CPU implementation. */
  architecture: string;
  device: string;
  description: string;
  /**
   * A CPU implementation of the API (lavapipe, SwiftShader): exact, and right for checking
   * correctness on a machine without a GPU, but slower than the wasm backend.
   */
  software: boolean;
}

interface GpuAdapterLike {
  info?: {
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
    isFallbackAdapter?: boolean;
  };
  isFallbackAdapter?: boolean;
}

interface GpuLike {
  requestAdapter(options?: {
    powerPreference?: "high-performance" | "low-power";
  }): Promise<GpuAdapterLike | null>;
}

interface WebGpuModule {
  create(options: string[]): GpuLike;
  globals: object;
}

/** How to get a Vulkan driver, for messages. */
export const VULKAN_DRIVER_HINT =
  "install the GPU's Vulkan driver (NVIDIA: its driver's Vulkan ICD; Debian and Ubuntu: libvulkan1 and mesa-vulkan-drivers)";

let gpu: GpuLike | undefined;

/** Loads `webgpu` and sets `navigator.gpu` (and the WebGPU globals) from it, once per process. */
async function installNavigatorGpu(
  importModule: (specifier: string) => Promise<unknown>,
  feature: string,
): Promise<GpuLike> {
  if (gpu !== undefined) return gpu;
  let module: WebGpuModule;
  try {
    module = (await importModule("webgpu")) as WebGpuModule;
  } catch (error) {
    throw new MissingPeerDependencyError("webgpu", feature, { cause: error });
  }
  const holder = globalThis as { navigator?: { gpu?: unknown } };
  const existing = holder.navigator?.gpu as GpuLike | undefined;
  if (existing !== undefined) {
    gpu = existing; // a browser-like environment, or a caller that set it up already
    return gpu;
  }
  // The WebGPU classes (GPUBufferUsage, GPUShaderStage, ...) the backend refers to as globals.
  for (const [name, value] of Object.entries(module.globals)) {
    if (!(name in globalThis))
      Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const created = module.create([]);
  if (holder.navigator === undefined) {
    Object.defineProperty(globalThis, "navigator", {
      value: { gpu: created },
      configurable: true,
      writable: true,
    });
  } else {
    // Node 21 and later have a navigator of their own, whose properties cannot be assigned.
    Object.defineProperty(holder.navigator, "gpu", { value: created, configurable: true, enumerable: true });
  }
  gpu = created;
  return gpu;
}

/** The adapter TF.js's webgpu backend will use (it asks for the high-performance one too), or null. */
export async function probeWebGpuAdapter(
  importModule: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
  feature = "the webgpu backend",
): Promise<WebGpuAdapterInfo | null> {
  const navigatorGpu = await installNavigatorGpu(importModule, feature);
  const adapter = await navigatorGpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return null;
  const info = adapter.info ?? {};
  const architecture = info.architecture ?? "";
  return {
    vendor: info.vendor ?? "",
    architecture,
    device: info.device ?? "",
    description: info.description ?? "",
    software:
      info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || architecture === "software",
  };
}

/** What {@link probeWebGpuInChildProcess} found. */
export type WebGpuProbeResult =
  | { kind: "adapter"; adapter: WebGpuAdapterInfo }
  | { kind: "no-adapter" }
  | { kind: "not-installed"; packageName: "webgpu" | "@tensorflow/tfjs-backend-webgpu" }
  | { kind: "failed"; message: string };

/**
 * Asks for the high-performance WebGPU adapter in a separate Node process, so that the automatic
 * selection can look without loading Dawn here: a machine with only a software adapter (lavapipe)
 * then gets nothing of Dawn's in this process, not even the warnings the driver prints on stderr
 * while the adapter is created, and a broken driver cannot take this process down. Costs a few
 * hundred milliseconds; the automatic selection starts it only where both WebGPU packages are
 * installed and, on Linux, a GPU device node exists (see {@link linuxGpuDeviceNode}).
 */
export async function probeWebGpuInChildProcess(timeoutMs = 60_000): Promise<WebGpuProbeResult> {
  const missing = webGpuPackagesMissing();
  if (missing !== null) return { kind: "not-installed", packageName: missing };
  const entry = createRequire(import.meta.url).resolve("webgpu");
  const script = `
    const { create } = await import(${JSON.stringify(pathToFileURL(entry).href)});
    const adapter = await create([]).requestAdapter({ powerPreference: "high-performance" });
    const info = adapter === null ? null : (adapter.info ?? {});
    process.stdout.write(JSON.stringify(info === null ? null : {
      vendor: info.vendor ?? "", architecture: info.architecture ?? "", device: info.device ?? "",
      description: info.description ?? "",
      software: info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || info.architecture === "software",
    }));
    process.exit(0);
  `;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { encoding: "utf8", timeout: timeoutMs, windowsHide: true },
      (error, stdout, stderr) => {
        if (error !== null) {
          const detail =
            stderr
              .trim()
              .split("\n")
              .find((line) => /error/i.test(line)) ?? error.message;
          resolve({ kind: "failed", message: `the WebGPU probe failed: ${detail.trim()}` });
          return;
        }
        try {
          const adapter = JSON.parse(stdout) as WebGpuAdapterInfo | null;
          resolve(adapter === null ? { kind: "no-adapter" } : { kind: "adapter", adapter });
        } catch {
          resolve({
            kind: "failed",
            message: `the WebGPU probe printed no adapter: ${stdout.slice(0, 200)}`,
          });
        }
      },
    );
  });
}

/** The first of the two WebGPU packages that cannot be resolved from here, or null when both can. */
export function webGpuPackagesMissing(): "webgpu" | "@tensorflow/tfjs-backend-webgpu" | null {
  const require = createRequire(import.meta.url);
  for (const packageName of ["webgpu", "@tensorflow/tfjs-backend-webgpu"] as const) {
    try {
      require.resolve(packageName);
    } catch {
      return packageName;
    }
  }
  return null;
}

/**
 * A device node through which Linux reaches a GPU (`/dev/dri/renderD*` for Mesa's and AMD's and
 * Intel's drivers, `/dev/nvidia0`... for NVIDIA's, `/dev/dxg` under WSL), or null: without one no
 * hardware adapter can exist, whatever Vulkan drivers are installed, and the automatic selection
 * need not start a probe (this keeps it free on CPU machines, CI included).
 */
export function linuxGpuDeviceNode(): string | null {
  for (const node of ["/dev/dxg", "/dev/nvidiactl"]) if (existsSync(node)) return node;
  try {
    const render = readdirSync("/dev/dri").find((name) => name.startsWith("renderD"));
    if (render !== undefined) return `/dev/dri/${render}`;
  } catch {
    // no /dev/dri
  }
  return null;
}

/** A short name of the adapter for log lines, e.g. `nvidia NVIDIA H200` or `mesa llvmpipe ...`. */
export function describeAdapter(adapter: WebGpuAdapterInfo): string {
  const what = adapter.description || adapter.device || adapter.architecture || "unnamed adapter";
  return adapter.vendor && !what.toLowerCase().startsWith(adapter.vendor.toLowerCase())
    ? `${adapter.vendor} ${what}`
    : what;
}

/** Why WebGPU was not used: the automatic selection records it and goes on; a forced one throws it. */
export class WebGpuUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WebGpuUnavailableError";
  }
}

/**
 * Starts TF.js's webgpu backend on the machine's high-performance WebGPU adapter.
 * @param allowSoftware accept a CPU implementation (lavapipe); the automatic selection does not.
 * @throws MissingPeerDependencyError when `webgpu` or `@tensorflow/tfjs-backend-webgpu` is missing;
 *   WebGpuUnavailableError when there is no adapter, only a software one (unless allowed), or the
 *   backend does not start.
 */
export async function startWebGpuBackend(options: {
  allowSoftware: boolean;
  importModule: (specifier: string) => Promise<unknown>;
  feature: string;
  /** Told when the fused kernels cannot run on this tfjs-backend-webgpu (they are then left out). */
  onWarning?: (message: string) => void;
}): Promise<WebGpuAdapterInfo> {
  const adapter = await probeWebGpuAdapter(options.importModule, options.feature);
  if (adapter === null) throw new WebGpuUnavailableError(`no WebGPU adapter found: ${VULKAN_DRIVER_HINT}`);
  if (adapter.software && !options.allowSoftware) {
    throw new WebGpuUnavailableError(
      `only a software WebGPU adapter (${describeAdapter(adapter)}), slower than wasm; choose the webgpu backend explicitly to use it`,
    );
  }
  if (tf.findBackendFactory("webgpu") === null) {
    try {
      await options.importModule("@tensorflow/tfjs-backend-webgpu");
    } catch (error) {
      if (isModuleNotFound(error, "@tensorflow/tfjs-backend-webgpu") || isModuleNotFound(error, "webgpu"))
        throw new MissingPeerDependencyError("@tensorflow/tfjs-backend-webgpu", options.feature, {
          cause: error,
        });
      throw error;
    }
    if (tf.findBackendFactory("webgpu") === null) {
      throw new WebGpuUnavailableError(
        "@tensorflow/tfjs-backend-webgpu did not register its backend: it was imported before navigator.gpu existed",
      );
    }
  }
  // tfjs-backend-webgpu's Softmax gives NaN for a fully masked attention row (see webgpu-softmax.ts).
  installWebGpuSoftmax();
  // Fused WGSL kernels (AdamW, the norm, RMSNorm, rotary, SwiGLU, attention, the PQM loss); PQM_WEBGPU_FUSED
  // may leave some out.
  installWebGpuFusedKernels(fusedKernelsFromEnvironment(process.env.PQM_WEBGPU_FUSED));
  let started: boolean;
  try {
    started = await tf.setBackend("webgpu");
    await tf.ready();
  } catch (error) {
    throw new WebGpuUnavailableError(`the webgpu backend did not start: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!started || tf.getBackend() !== "webgpu") {
    throw new WebGpuUnavailableError("the webgpu backend did not start (tf.setBackend('webgpu') failed)");
  }
  const missing = missingWebGpuInternals(tf.backend());
  if (missing.length > 0 && uninstallWebGpuFusedKernels()) {
    options.onWarning?.(
      `the fused WGSL kernels are off: this @tensorflow/tfjs-backend-webgpu lacks ${missing.join(", ")} (they were written against 4.22.0); TF.js's composed operations run instead`,
    );
  }
  return adapter;
}
