import * as tf from "@tensorflow/tfjs-core";

/**
 * RMSNorm as in transformers' LlamaRMSNorm: `x / sqrt(mean(x², last axis) + eps) · weight`, eps
 * inside the square root, the weight used as stored (no `1 + w`), no mean subtraction, no bias.
 * @param x `[..., hidden]` float32.
 * @param weight `[hidden]`.
 * @returns a tensor shaped like `x`.
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}
