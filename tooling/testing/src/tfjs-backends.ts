import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe } from "vitest";

/** The TF.js backends every numerical test runs on here (the native ones cannot install on these machines). */
export const conformanceBackends = ["cpu", "wasm"] as const;
export type ConformanceBackend = (typeof conformanceBackends)[number];

/** Switches TF.js to `name` and waits until it is ready; throws when the backend did not start. */
export async function useBackend(name: ConformanceBackend): Promise<void> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`TF.js backend '${name}' did not start (active: '${tf.getBackend()}')`);
  }
}

/**
 * The backend conformance suite: registers `body` once per backend in `conformanceBackends`, each
 * inside its own `describe` that switches the backend first. Test titles carry the backend name.
 */
export function describeEachBackend(title: string, body: (backend: ConformanceBackend) => void): void {
  for (const backend of conformanceBackends) {
    describe(`${title} [${backend}]`, () => {
      beforeAll(async () => {
        await useBackend(backend);
      });
      body(backend);
    });
  }
}
