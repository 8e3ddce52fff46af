import * as tf from "@tensorflow/tfjs-core";

// The three wasm kernels this package replaces (BatchMatMul twice, Identity) swap a registration the
// same way: remember what was registered, register the replacement, put the remembered one back later.

/**
 * Registers `kernelFunc` as the wasm backend's `kernelName`, keeping the current kernel's `setupFunc`
 * (wasm kernels bind their C++ functions there; a backend re-initialization runs it again).
 * @returns the kernel that was registered, for {@link restoreWasmKernel}; undefined when the wasm
 *   backend's kernels are not registered (nothing changes then).
 */
export function overrideWasmKernel(kernelName: string, kernelFunc: unknown): tf.KernelConfig | undefined {
  const previous = tf.getKernel(kernelName, "wasm");
  if (previous === undefined) return undefined;
  tf.unregisterKernel(kernelName, "wasm");
  const config: tf.KernelConfig = {
    kernelName,
    backendName: "wasm",
    kernelFunc: kernelFunc as tf.KernelFunc,
  };
  if (previous.setupFunc !== undefined) config.setupFunc = previous.setupFunc;
  tf.registerKernel(config);
  return previous;
}

/** Registers `previous` (from {@link overrideWasmKernel}) again in place of the override. */
export function restoreWasmKernel(previous: tf.KernelConfig): void {
  tf.unregisterKernel(previous.kernelName, "wasm");
  tf.registerKernel(previous);
}
