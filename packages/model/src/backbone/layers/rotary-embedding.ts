import * as tf from "@tensorflow/tfjs-core";
import { HostKernel, hasHostKernel } from "../../tfjs-backends/wasm-host-kernels.js";
import type { RopeScaling } from "../decoder-config.js";

/**
 * RoPE inverse frequencies `1 / theta^(2j / headDim)` for j = 0 .. headDim/2 − 1, rounded step by
 * step to float32 as transformers computes them (`arange(0, d, 2).float() / d`, a float32 power
 * and reciprocal), then adjusted by `scaling` (linear: divided by the factor; llama3: the
 * wavelength-dependent blend of transformers' `_compute_llama3_parameters`).
 * @returns `[headDim / 2]` float32 values.
 */
export function ropeInverseFrequencies(
  headDim: number,
  theta: number,
  scaling: RopeScaling | null = null,
): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let j = 0; j < half; j++) {
    const exponent = Math.fround(Math.fround(2 * j) / headDim);
    out[j] = Math.fround(1 / Math.fround(theta ** exponent));
  }
  if (scaling?.type === "linear") {
    for (let j = 0; j < half; j++) out[j] = Math.fround((out[j] as number) / scaling.factor);
  } else if (scaling?.type === "llama3") {
    const lowFreqWavelength = scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor;
    const highFreqWavelength = scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor;
    for (let j = 0; j < half; j++) {
      const frequency = out[j] as number;
      const wavelength = (2 * Math.PI) / frequency;
      let scaled = wavelength > lowFreqWavelength ? frequency / scaling.factor : frequency;
      if (wavelength >= highFreqWavelength && wavelength <= lowFreqWavelength) {
        const smooth =
          (scaling.originalMaxPositionEmbeddings / wavelength - scaling.lowFreqFactor) /
          (scaling.highFreqFactor - scaling.lowFreqFactor);
        scaled = ((1 - smooth) * scaled) / scaling.factor + smooth * scaled;
      }
      out[j] = Math.fround(scaled);
    }
  }
  return out;
}

/**
 * Cosines and sines of the rotary angles `position · inv_freq` (float32), duplicated into both
 * halves of the head (`cat(angles, angles)`), shaped to broadcast over heads.
 * @param positionIds `[batch, seq]` int32.
 * @param inverseFrequencies `[headDim / 2]` (see `ropeInverseFrequencies`).
 * @returns `cos` and `sin`, each `[batch, 1, seq, headDim]`.
 */
export function ropeCosSin(
  positionIds: tf.Tensor,
  inverseFrequencies: Float32Array,
): { cos: tf.Tensor; sin: tf.Tensor } {
  return tf.tidy(() => {
    const [batch, seq] = positionIds.shape as [number, number];
    const positions = tf.reshape(tf.cast(positionIds, "float32"), [batch, seq, 1]); // [batch, seq, 1]
    const angles = tf.mul(positions, tf.tensor1d(inverseFrequencies)); // [batch, seq, headDim/2]
    const both = tf.reshape(tf.concat([angles, angles], -1), [batch, 1, seq, 2 * inverseFrequencies.length]); // [batch, 1, seq, headDim]
    return { cos: tf.cos(both), sin: tf.sin(both) };
  });
}

/**
 * Applies rotary embeddings in the "rotate half" (GPT-NeoX) layout used by Hugging Face
 * checkpoints: `x · cos + rotate_half(x) · sin` with `rotate_half(x) = cat(−x2, x1)`, so element j
 * pairs with element j + headDim/2.
 * @param x `[batch, heads, seq, headDim]`.
 * @param cos `[batch, 1, seq, headDim]` from `ropeCosSin`.
 * @param sin as `cos`.
 * @returns a tensor shaped like `x`.
 */
export function applyRotaryEmbedding(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  if (hasHostKernel(HostKernel.rotary)) {
    // One kernel call forward and one backward (the same float32 arithmetic as below).
    const rotary = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([cos, sin]); // kept for the backward pass (only while a gradient is being taped)
      return {
        value: tf
          .engine()
          .runKernel(HostKernel.rotary, { x: input, cos, sin }, { inverse: false }) as tf.Tensor,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [savedCos, savedSin] = saved as [tf.Tensor, tf.Tensor];
          return tf
            .engine()
            .runKernel(
              HostKernel.rotary,
              { x: dy, cos: savedCos, sin: savedSin },
              { inverse: true },
            ) as tf.Tensor;
        },
      };
    });
    return rotary(x);
  }
  return tf.tidy(() => {
    const [firstHalf, secondHalf] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor]; // each [batch, heads, seq, headDim/2]
    const rotated = tf.concat([tf.neg(secondHalf), firstHalf], -1); // [batch, heads, seq, headDim]
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}
