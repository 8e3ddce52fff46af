import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { overrideWasmKernel, restoreWasmKernel } from "./wasm-kernel-override.js";

// tfjs-core keeps every tensor a gradient will need by cloning it (`keep(clone(x))` in the engine's
// tape), and `clone` is the `Identity` kernel. The cpu backend's Identity shares the data (a reference
// count, as Reshape does everywhere); the wasm backend's copies it into new heap memory. In a training
// step that is one copy of nearly every activation: on torch-peer M, 469 copies per step, and the
// step's peak resident memory falls from 1.91 to 1.63 GB without them. TF.js never writes into an
// existing tensor's data (every kernel allocates its output), so sharing is as safe on wasm as on
// cpu. This kernel shares, like wasm's own Reshape.

interface KernelArguments {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
}

let stockIdentity: tf.KernelConfig | undefined;

function sharedIdentity(args: KernelArguments): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === "string") {
    return (
      (stockIdentity as tf.KernelConfig).kernelFunc as unknown as (args: KernelArguments) => tf.TensorInfo
    )(args);
  }
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * Replaces the wasm backend's `Identity` (tfjs-core's `clone`) with one that shares the input's data
 * instead of copying it. Idempotent. `selectBackend` installs it on wasm.
 * @returns false when the wasm backend's kernels are not registered.
 */
export function installSharedWasmIdentity(): boolean {
  if (stockIdentity !== undefined) return true;
  stockIdentity = overrideWasmKernel(tf.Identity, sharedIdentity);
  return stockIdentity !== undefined;
}

/** Puts the copying wasm `Identity` back. @returns false when the shared one was not installed. */
export function uninstallSharedWasmIdentity(): boolean {
  if (stockIdentity === undefined) return false;
  restoreWasmKernel(stockIdentity);
  stockIdentity = undefined;
  return true;
}
