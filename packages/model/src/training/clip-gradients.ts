import * as tf from "@tensorflow/tfjs-core";
import { sumTensors } from "../tfjs-backends/sum-tensors.js";

/**
 * The global L2 norm of a set of gradients, `sqrt(sum of squares over all of them)`, as a scalar
 * tensor on the backend (nothing is read back). The squares' sums are added a few at a time (see
 * `sumTensors`), in the order of the map, which is the order one `tf.addN` would add them.
 */
export function globalNormTensor(gradients: ReadonlyMap<string, tf.Tensor>): tf.Scalar {
  if (gradients.size === 0) return tf.scalar(0);
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
  const factor = Math.min(1, maxNorm / (norm + 1e-6));
  if (!(factor < 1) || !Number.isFinite(norm)) return { gradients, norm };
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, gradient] of gradients) {
    clipped.set(name, tf.mul(gradient, factor));
    gradient.dispose();
  }
  return { gradients: clipped, norm };
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
