import * as tf from "@tensorflow/tfjs-core";

/**
 * Inputs of one `tf.addN` here. WebGPU's default limits give a compute shader 8 storage buffers, and
 * tfjs-backend-webgpu's AddN binds every input and the output as one (it asks for no higher limit),
 * so an addN over more than 7 tensors fails there; 4 leaves room on every backend.
 */
export const MAX_ADDN_INPUTS = 4;

/**
 * The sum of same-shaped tensors, as `tf.addN(tensors)` gives it, but never more than
 * {@link MAX_ADDN_INPUTS} inputs per kernel: `addN` of the first four, then `addN([sum, next three])`
 * and so on. Every backend's AddN adds its inputs in order into a zeroed output, so this is the same
 * left-to-right sum, bit for bit, as one `addN` over all of them (on cpu and wasm: tested).
 * @throws Error for an empty list.
 */
export function sumTensors(tensors: readonly tf.Tensor[]): tf.Tensor {
  if (tensors.length === 0) throw new Error("sumTensors: no tensors to add");
  return tf.tidy(() => {
    let sum = tensors.length === 1 ? tf.clone(tensors[0]!) : tf.addN(tensors.slice(0, MAX_ADDN_INPUTS));
    for (let start = MAX_ADDN_INPUTS; start < tensors.length; start += MAX_ADDN_INPUTS - 1) {
      sum = tf.addN([sum, ...tensors.slice(start, start + MAX_ADDN_INPUTS - 1)]);
    }
    return sum;
  });
}
