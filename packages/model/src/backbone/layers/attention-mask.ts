import * as tf from "@tensorflow/tfjs-core";

/** The most negative finite float32, used (as in transformers) instead of −Infinity so that fully masked rows become a uniform average, not NaN. */
export const FLOAT32_MOST_NEGATIVE = -3.4028234663852886e38;

/**
 * Additive attention mask: 0 where query t may attend key s (s ≤ t, s not padding, and within the
 * sliding window when one is given), the most negative float32 elsewhere.
 * @param attentionMask `[batch, seq]` int32, 1 for real tokens and 0 for padding.
 * @param slidingWindow when set, keys more than `slidingWindow − 1` positions back are masked.
 * @returns `[batch, 1, 1, seq, seq]`, broadcasting over kv heads and the query heads of a group.
 */
export function additiveAttentionMask(
  attentionMask: tf.Tensor,
  slidingWindow: number | null = null,
): tf.Tensor {
  const [batch, seq] = attentionMask.shape as [number, number];
  const causal = new Float32Array(seq * seq);
  for (let query = 0; query < seq; query++) {
    const first = slidingWindow === null ? 0 : Math.max(0, query - slidingWindow + 1);
    for (let key = first; key <= query; key++) causal[query * seq + key] = 1;
  }
  return tf.tidy(() => {
    const keys = tf.reshape(tf.cast(attentionMask, "float32"), [batch, 1, 1, 1, seq]); // [batch, 1, 1, 1, seq]
    const allowed = tf.mul(tf.tensor(causal, [1, 1, 1, seq, seq]), keys); // [batch, 1, 1, seq, seq]
    // (1 − allowed) · MIN is exactly MIN or 0: no −Infinity arises.
    return tf.mul(tf.sub(1, allowed), FLOAT32_MOST_NEGATIVE);
  });
}
