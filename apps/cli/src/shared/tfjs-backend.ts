import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { CliError } from "./cli-error.js";
import { quietTfjs } from "./quiet-tfjs.js";

/** Starts the TF.js backend `name` for a CLI command and returns the name of the one running. */
export async function selectCliBackend(name: string): Promise<string> {
  if (!tf.findBackendFactory(name)) {
    throw new CliError(`unknown TF.js backend '${name}' (available here: cpu, wasm)`, 2);
  }
  // TF.js's own console advice stays off the screen; the CLI says what backend runs itself.
  quietTfjs();
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok) throw new CliError(`the TF.js backend '${name}' failed to start`);
  return tf.getBackend();
}
