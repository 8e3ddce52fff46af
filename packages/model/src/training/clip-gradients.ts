import * as tf from "@tensorflow/tfjs-core";
import { sumTensors } from "../tfjs-backends/sum-tensors.js";
import { HostKernel, hasHostKernel } from "../tfjs-backends/wasm-host-kernels.js";
import { SUM_OF_SQUARES_INPUTS } from "../tfjs-backends/webgpu-fused-kernels.js";

/**
 * The global L2 norm of a set of gradients, `sqrt(sum of squares over all of them)`, as a scalar
 * tensor on the backend (nothing is read back). The squares' sums are added a few at a time (see
 * `sumTensors`), in the order of the map, which is the order one `tf.addN` would add them.
 */
export function globalNormTensor(gradients: ReadonlyMap<string, tf.Tensor>): tf.Scalar {
  if (gradients.size === 0) return tf.scalar(0);
  const all = [...gradients.values()];
  if (hasHostKernel(HostKernel.sumOfSquares) && all.every((g) => g.dtype === "float32")) {
    // webgpu: the squares of up to 7 gradients summed in one launch (partial sums per gradient), then
    // one sum and a square root: about 8 launches for 29 gradients instead of about 62.
    return tf.tidy(() => {
      const partials: tf.Tensor[] = [];
      for (let start = 0; start < all.length; start += SUM_OF_SQUARES_INPUTS) {
        const group = all.slice(start, start + SUM_OF_SQUARES_INPUTS);
        const inputs = Object.fromEntries(group.map((g, index) => [`x${index}`, g]));
        partials.push(tf.reshape(tf.engine().runKernel(HostKernel.sumOfSquares, inputs) as tf.Tensor, [-1]));
      }
      return tf.sqrt(
        tf.sum(partials.length === 1 ? (partials[0] as tf.Tensor) : tf.concat(partials)),
      ) as tf.Scalar;
    });
  }
  return tf.tidy(
    () => tf.sqrt(sumTensors([...gradients.values()].map((g) => tf.sum(tf.square(g))))) as tf.Scalar,
  );
}

/**
 * The global L2 norm of a set of gradients as a number (one asynchronous read from the backend).
 * Infinite or NaN when any gradient is.
 */
export async function globalGradientNorm(gradients: ReadonlyMap<string, tf.Tensor>): Promise<number> {
  const norm = globalNormTensor(gradients);
  const value = (await norm.data())[0] as number;
  norm.dispose();
  return value;
}

/**
 * Scales gradients whose global norm (measured, e.g. by {@link globalNormTensor}) is `norm` so that it
 * becomes at most `maxNorm`, as `torch.nn.utils.clip_grad_norm_` (factor `maxNorm / (norm + 1e-6)`,
 * capped at 1). Returns new tensors (the inputs are disposed), or the inputs themselves when nothing
 * changes (factor 1, or a norm that is not finite).
 * @param maxNorm a positive number, or `Infinity` to only measure.
 */
export function clipToGlobalNorm(
  gradients: Map<string, tf.Tensor>,
  maxNorm: number,
  norm: number,
): { gradients: Map<string, tf.Tensor>; norm: number } {
  const factor = clipFactor(maxNorm, norm);
  if (factor === 1) return { gradients, norm };
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, gradient] of gradients) {
    clipped.set(name, tf.mul(gradient, factor));
    gradient.dispose();
  }
  return { gradients: clipped, norm };
}

/**
 * The factor {@link clipToGlobalNorm} scales gradients by: `maxNorm / (norm + 1e-6)` capped at 1, and 1
 * when `norm` is not finite. For an optimizer that scales as it updates (`AdamW.applyGradients`'s
 * `gradientScale`), which saves a pass over every gradient.
 */
export function clipFactor(maxNorm: number, norm: number): number {
  const factor = Math.min(1, maxNorm / (norm + 1e-6));
  return factor < 1 && Number.isFinite(norm) ? factor : 1;
}

/**
 * Measures the global norm (one asynchronous read) and clips to `maxNorm`; see {@link clipToGlobalNorm}.
 * @param maxNorm a positive number, or `Infinity` to only measure.
 */
export async function clipByGlobalNorm(
  gradients: Map<string, tf.Tensor>,
  maxNorm: number,
): Promise<{ gradients: Map<string, tf.Tensor>; norm: number }> {
  return clipToGlobalNorm(gradients, maxNorm, await globalGradientNorm(gradients));
}
