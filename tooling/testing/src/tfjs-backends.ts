import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe } from "vitest";
import { registerWebGpuBackend, webgpuProbe } from "./webgpu.js";

/** The TF.js backends every numerical test runs on here (the native ones cannot install on these machines). */
export const conformanceBackends = ["cpu", "wasm"] as const;
/**
 * A backend of the harness: the two of {@link conformanceBackends}, and `webgpu`, which suites ask for
 * with `{ webgpu: true }` (see {@link describeEachBackend}).
 */
export type ConformanceBackend = (typeof conformanceBackends)[number] | "webgpu";

/** Switches TF.js to `name` and waits until it is ready; throws when the backend did not start. */
export async function useBackend(name: ConformanceBackend): Promise<void> {
  if (name === "webgpu") await registerWebGpuBackend();
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`TF.js backend '${name}' did not start (active: '${tf.getBackend()}')`);
  }
}

/** Options of {@link describeEachBackend}. */
export interface DescribeEachBackendOptions {
  /**
   * Also run the suite on `webgpu` (after cpu and wasm), where a WebGPU adapter exists (see
   * `webgpuProbe`); elsewhere the suite is skipped, saying why in its title. The body must then read
   * tensors asynchronously (`data()`, `array()`): `dataSync` fails on WebGPU in Node.
   */
  webgpu?: boolean;
}

/**
 * The backend conformance suite: registers `body` once per backend in `conformanceBackends` (and on
 * `webgpu` when asked), each inside its own `describe` that switches the backend first. Test titles
 * carry the backend name.
 */
export function describeEachBackend(
  title: string,
  body: (backend: ConformanceBackend) => void,
  options: DescribeEachBackendOptions = {},
): void {
  for (const backend of conformanceBackends) {
    describe(`${title} [${backend}]`, () => {
      beforeAll(async () => {
        await useBackend(backend);
      });
      body(backend);
    });
  }
  if (options.webgpu === true) {
    const { available, skipReason } = webgpuProbe();
    describe.skipIf(!available)(`${title} [webgpu]${skipReason}`, () => {
      beforeAll(async () => {
        await useBackend("webgpu");
      });
      body("webgpu");
    });
  }
}
