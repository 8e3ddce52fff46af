import * as tf from "@tensorflow/tfjs-core";

/** The most negative finite float32, used (as in transformers) instead of −Infinity so that fully masked rows become a uniform average, not NaN. */
export const FLOAT32_MOST_NEGATIVE = -3.4028234663852886e38;

/**
 * Additive attention mask: 0 where query t may attend key s, the most negative float32 elsewhere.
 * Query t reads key s when s ≤ t, key s is a real token, and, with a sliding window W, t − s < W:
 * the query itself and at most W − 1 keys before it (transformers' `sliding_window_overlay`,
 * `kv_idx > q_idx - sliding_window`, on top of the causal mask). t and s are indices into the
 * padded row, so left or right padding shifts queries and keys alike and a row's real tokens see the
 * same keys as unpadded.
 * @param attentionMask `[batch, seq]` int32, 1 for real tokens and 0 for padding.
 * @param slidingWindow W, or null for full causal attention.
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

/**
 * One additive mask per decoder layer (see `additiveAttentionMask`), shared between layers with the
 * same effective window: a window of at least `seq` keys masks nothing more than the causal triangle,
 * so such layers share the full causal mask.
 * @param layerWindows each layer's sliding window, or null.
 * @returns `layerWindows.length` masks `[batch, 1, 1, seq, seq]` (the same tensor repeated where shared).
 */
export function layerAttentionMasks(
  attentionMask: tf.Tensor,
  layerWindows: readonly (number | null)[],
): tf.Tensor[] {
  const seq = attentionMask.shape[1] as number;
  const masks = new Map<number | null, tf.Tensor>();
  return layerWindows.map((window) => {
    const effective = window !== null && window < seq ? window : null;
    let mask = masks.get(effective);
    if (mask === undefined) {
      mask = additiveAttentionMask(attentionMask, effective);
      masks.set(effective, mask);
    }
    return mask;
  });
}
