import * as tf from "@tensorflow/tfjs-core";
import { HostKernel, hasHostKernel } from "../../tfjs-backends/wasm-host-kernels.js";

/**
 * RMSNorm as in transformers' LlamaRMSNorm: `x / sqrt(mean(x², last axis) + eps) · weight`, eps
 * inside the square root, the weight used as stored (no `1 + w`), no mean subtraction, no bias.
 * @param x `[..., hidden]` float32.
 * @param weight `[hidden]`.
 * @returns a tensor shaped like `x`.
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const width = x.shape[x.rank - 1] as number;
  if (hasHostKernel(HostKernel.rmsNorm) && width % 4 === 0 && x.dtype === "float32") {
    // One SIMD kernel forward and one backward instead of six and about a dozen (wasm); the row sums
    // add four partial sums, so results agree with the composed form to within float32 rounding.
    const fused = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [input, scale, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const [y, inverseRms] = tf
        .engine()
        .runKernel(HostKernel.rmsNorm, { x: input, weight: scale }, { eps }) as [tf.Tensor, tf.Tensor];
      save([input, scale, inverseRms]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [savedX, savedWeight, savedR] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          return tf.engine().runKernel(HostKernel.rmsNormGrad, {
            x: savedX,
            weight: savedWeight,
            r: savedR,
            dy,
          }) as tf.Tensor[];
        },
      };
    });
    return tf.tidy(() => fused(x, weight));
  }
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}
