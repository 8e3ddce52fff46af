import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { CliError } from "./cli-error.js";
import { quietTfjs } from "./quiet-tfjs.js";

/**
 * Starts the TF.js backend `name` for a CLI command (`cpu`, `wasm` or `webgpu`) and returns what runs:
 * the backend's name, or for webgpu @pqm/model's description of it, which names the adapter.
 */
export async function selectCliBackend(name: string): Promise<string> {
  // TF.js's own console advice stays off the screen; the CLI says what backend runs itself.
  quietTfjs();
  if (name === "webgpu") {
    const { selectBackend } = await import("@pqm/model");
    try {
      return (await selectBackend({ backend: "webgpu" })).description;
    } catch (error) {
      throw new CliError(`--backend webgpu: ${(error as Error).message}`);
    }
  }
  if (!tf.findBackendFactory(name)) {
    throw new CliError(`unknown TF.js backend '${name}' (available here: cpu, wasm, webgpu)`, 2);
  }
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok) throw new CliError(`the TF.js backend '${name}' failed to start`);
  return tf.getBackend();
}
