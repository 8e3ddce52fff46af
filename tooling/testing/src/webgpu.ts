// WebGPU for the conformance harness: whether this machine has a WebGPU adapter (probed once, in a
// child process, so that the test files that never ask pay nothing), and starting TF.js's webgpu
// backend on it through the `webgpu` package (Dawn's Node bindings).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs-core";

/** What the probe found: an adapter (with what it says of itself) or why the WebGPU tests are skipped. */
export interface WebGpuProbe {
  /** True when the webgpu suites run here. */
  available: boolean;
  /** `""` when they run, else ` [skipped: why]` for the suites' titles (the repository's convention). */
  skipReason: string;
  /** The adapter's `info` (vendor, architecture, device, description) and whether it is a CPU fallback. */
  adapter: WebGpuAdapterDescription | null;
}

/** What a WebGPU adapter says of itself (`adapter.info`). */
export interface WebGpuAdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe, SwiftShader): right for correctness checks, not for speed. */
  isFallbackAdapter: boolean;
}

const INSTALL_HINT =
  "install a Vulkan driver (Debian: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1)";

let probed: WebGpuProbe | undefined;

/**
 * Whether the webgpu suites run here, probed once per process. They run only on Node 20 inside the
 * full test command (`PQM_TEST_NODE` starts with `v20.`; unset, as in a plain `vitest run`, they run
 * on any Node): CI runs the command on three Nodes, and the WebGPU path does not depend on which.
 * The adapter is looked for in a child process that imports `webgpu` and asks for one, so a machine
 * without a Vulkan driver skips the suites visibly instead of failing them.
 */
export function webgpuProbe(): WebGpuProbe {
  probed ??= probe();
  return probed;
}

function skipped(why: string): WebGpuProbe {
  return { available: false, skipReason: ` [skipped: ${why}]`, adapter: null };
}

function probe(): WebGpuProbe {
  const node = process.env.PQM_TEST_NODE;
  if (node !== undefined && node !== "" && !node.startsWith("v20.")) {
    return skipped(`WebGPU checks run once, on Node 20 (this run: PQM_TEST_NODE=${node})`);
  }
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve("webgpu");
  } catch {
    return skipped("the webgpu package is not installed; pnpm install");
  }
  const script = `
    const { create } = await import(${JSON.stringify(pathToFileURL(entry).href)});
    const adapter = await create([]).requestAdapter({ powerPreference: "high-performance" });
    const info = adapter?.info;
    process.stdout.write(JSON.stringify(info === undefined ? null : {
      vendor: info.vendor, architecture: info.architecture, device: info.device,
      description: info.description, isFallbackAdapter: info.isFallbackAdapter === true,
    }));
    process.exit(0);
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  if (child.status !== 0) {
    const why = (child.stderr || child.error?.message || `exit ${child.status}`).trim().split("\n")[0];
    return skipped(`no WebGPU adapter (the probe failed: ${why?.replace(/[[\]]/g, "")}); ${INSTALL_HINT}`);
  }
  const adapter = JSON.parse(child.stdout) as WebGpuAdapterDescription | null;
  if (adapter === null) return skipped(`no WebGPU adapter; ${INSTALL_HINT}`);
  return { available: true, skipReason: "", adapter };
}

/**
 * Registers TF.js's webgpu backend: `navigator.gpu` from the `webgpu` package first (the backend
 * registers itself only when it exists), then `@tensorflow/tfjs-backend-webgpu`. Once per process.
 */
export async function registerWebGpuBackend(): Promise<void> {
  if (tf.findBackendFactory("webgpu") !== null) return;
  const { create, globals } = await import("webgpu");
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const holder = globalThis as { navigator?: object };
  if (holder.navigator === undefined) {
    Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  } else if (!("gpu" in holder.navigator)) {
    // Node 21+ has a navigator of its own whose properties cannot be assigned.
    Object.defineProperty(holder.navigator, "gpu", { value: gpu, configurable: true, enumerable: true });
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  if (tf.findBackendFactory("webgpu") === null) {
    throw new Error("@tensorflow/tfjs-backend-webgpu did not register: navigator.gpu is missing");
  }
}
