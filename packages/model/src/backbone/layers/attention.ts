import * as tf from "@tensorflow/tfjs-core";
import { HostKernel, hasHostKernel } from "../../tfjs-backends/wasm-host-kernels.js";

/**
 * `tf.softmax` over the last axis; where the backend has the fused host kernel for its gradient
 * (wasm SIMD), the backward pass is one kernel call instead of four.
 */
function softmaxLastAxis(logits: tf.Tensor): tf.Tensor {
  if (!hasHostKernel(HostKernel.softmaxGrad)) return tf.softmax(logits);
  const softmax = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const y = tf.softmax(input);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(HostKernel.softmaxGrad, { y: saved[0] as tf.Tensor, dy }) as tf.Tensor,
    };
  });
  return softmax(logits);
}

/**
 * Attention of one layer from TF.js operations: query `[batch, heads, seq, headDim]`, key and value
 * `[batch, kvHeads, seq, headDim]`, the additive mask `[batch, 1, 1, seq, seq]`. Returns the heads'
 * outputs side by side, `[batch*seq, heads*headDim]`.
 */
export function composedAttention(
  query: tf.Tensor,
  key: tf.Tensor,
  value: tf.Tensor,
  mask: tf.Tensor,
  scale: number,
): tf.Tensor {
  const [batch, numAttentionHeads, seq, headDim] = query.shape as [number, number, number, number];
  const numKeyValueHeads = key.shape[1] as number;
  const groupSize = numAttentionHeads / numKeyValueHeads;
  // Query head h uses kv head floor(h / groupSize) (repeat_interleave), and heads are contiguous, so
  // each kv head's group of query heads stacks into one product without copying k and v.
  // The 1/sqrt(headDim) scale applied to the queries rather than the scores: seq/headDim times fewer
  // multiplications (forward and backward), equal to within float32 rounding.
  const groupedQuery = tf.reshape(tf.mul(query, scale), [batch * numKeyValueHeads, groupSize * seq, headDim]); // [batch*kvHeads, group*seq, headDim]
  const flatKey = tf.reshape(key, [batch * numKeyValueHeads, seq, headDim]); // [batch*kvHeads, seq, headDim]
  const flatValue = tf.reshape(value, [batch * numKeyValueHeads, seq, headDim]); // [batch*kvHeads, seq, headDim]
  const scores = tf.matMul(groupedQuery, flatKey, false, true); // [batch*kvHeads, group*seq, seq]
  const masked = tf.add(tf.reshape(scores, [batch, numKeyValueHeads, groupSize, seq, seq]), mask); // [batch, kvHeads, group, seq, seq]
  const probabilities = tf.reshape(softmaxLastAxis(masked), [batch * numKeyValueHeads, groupSize * seq, seq]); // [batch*kvHeads, group*seq, seq]
  const context = tf.matMul(probabilities, flatValue); // [batch*kvHeads, group*seq, headDim]
  return tf.reshape(
    tf.transpose(tf.reshape(context, [batch, numAttentionHeads, seq, headDim]), [0, 2, 1, 3]),
    [batch * seq, numAttentionHeads * headDim],
  ); // [batch*seq, heads*headDim]
}

/**
 * The same attention as {@link composedAttention} through the backend's fused kernels (webgpu): one
 * launch forward, which also keeps each query row's log-sum-exp, and four backward. Returns
 * `[batch, seq, heads, headDim]`.
 */
export function fusedAttention(
  query: tf.Tensor,
  key: tf.Tensor,
  value: tf.Tensor,
  mask: tf.Tensor,
  scale: number,
): tf.Tensor {
  const attention = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [q, k, v, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [output, lse] = tf
      .engine()
      .runKernel(HostKernel.attention, { query: q, key: k, value: v, mask }, { scale }) as [
      tf.Tensor,
      tf.Tensor,
    ];
    save([q, k, v, mask, output, lse]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sMask, sOutput, sLse] = saved as tf.Tensor[];
        return tf
          .engine()
          .runKernel(
            HostKernel.attentionGrad,
            { query: sq!, key: sk!, value: sv!, mask: sMask!, output: sOutput!, lse: sLse!, dy },
            { scale },
          ) as tf.Tensor[];
      },
    };
  });
  return attention(query, key, value);
}
