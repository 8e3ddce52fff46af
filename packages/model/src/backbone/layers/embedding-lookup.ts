import * as tf from "@tensorflow/tfjs-core";

/**
 * Row lookup in an embedding matrix whose gradient is a dense scatter-add (`tf.scatterND`, which
 * sums rows of repeated ids) rather than tf.gather's `UnsortedSegmentSum`, which the wasm backend
 * lacks, and never a one-hot matmul over the vocabulary. Usable inside `tf.grad` and
 * `optimizer.minimize` on every backend.
 * @param weight `[vocab, hidden]` float32.
 * @param ids int32 ids of any shape `S`; values must lie in [0, vocab).
 * @returns `[...S, hidden]`.
 */
export function embeddingLookup(weight: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [vocab, hidden] = weight.shape as [number, number];
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [table, flatIds, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([flatIds]);
    return {
      value: tf.gather(table, flatIds), // [tokens, hidden]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const savedIds = saved[0] as tf.Tensor;
        const indices = tf.reshape(savedIds, [-1, 1]); // [tokens, 1]
        // The ids are not differentiable; their "gradient" is a float zero the engine discards.
        return [tf.scatterND(indices, dy, [vocab, hidden]), tf.zeros(savedIds.shape)];
      },
    };
  });
  return tf.tidy(() => {
    const flatIds = tf.reshape(ids, [-1]); // [tokens]
    return tf.reshape(lookup(weight, flatIds), [...ids.shape, hidden]); // [...S, hidden]
  });
}
