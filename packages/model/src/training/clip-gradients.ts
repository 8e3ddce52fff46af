import * as tf from "@tensorflow/tfjs-core";

/**
 * The global L2 norm of a set of gradients, `sqrt(sum of squares over all of them)`, as a number
 * (one read back from the backend). Infinite or NaN when any gradient is.
 */
export function globalGradientNorm(gradients: ReadonlyMap<string, tf.Tensor>): number {
  if (gradients.size === 0) return 0;
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...gradients.values()].map((g) => tf.sum(tf.square(g))))));
  const value = norm.dataSync()[0] as number;
  norm.dispose();
  return value;
}

/**
 * Scales gradients so their global norm is at most `maxNorm`, as `torch.nn.utils.clip_grad_norm_`
 * (factor `maxNorm / (norm + 1e-6)`, capped at 1). Returns new tensors (the inputs are disposed) and
 * the norm before clipping.
 * @param maxNorm a positive number, or `Infinity` to only measure.
 */
export function clipByGlobalNorm(
  gradients: Map<string, tf.Tensor>,
  maxNorm: number,
): { gradients: Map<string, tf.Tensor>; norm: number } {
  const norm = globalGradientNorm(gradients);
  const factor = Math.min(1, maxNorm / (norm + 1e-6));
  if (!(factor < 1) || !Number.isFinite(norm)) return { gradients, norm };
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, gradient] of gradients) {
    clipped.set(name, tf.mul(gradient, factor));
    gradient.dispose();
  }
  return { gradients: clipped, norm };
}
