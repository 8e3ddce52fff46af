// Shared by the tests of the replacement wasm kernels (not exported from the package): a small Qwen2
// decoder's PQM loss and every gradient, to compare a kernel against the one it replaces.
import { getLoss } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { createRandomDecoder } from "../backbone/create-random-decoder.js";

/** The loss and gradients as tensors, and what to dispose once they are read. */
function decoderStep(): { value: tf.Scalar; grads: tf.Tensor[]; dispose(): void } {
  const decoder = createRandomDecoder(
    {
      model_type: "qwen2",
      vocab_size: 97,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 96,
      max_position_embeddings: 48,
    },
    3,
  );
  const inputIds = tf.tensor2d(
    Int32Array.from({ length: 2 * 48 }, (_, i) => (i * 31 + 7) % 97),
    [2, 48],
    "int32",
  );
  const labels = tf.tensor2d([1, 1, 0, 1, 0, 0], [2, 3]);
  const loss = getLoss("pqm", { zeta: 4 });
  const { value, grads } = tf.variableGrads(() => {
    const hidden = decoder.forwardHidden({ inputIds });
    // tf.gather has no gradient on wasm: read three "step" scores with a slice.
    const scores = tf.slice(tf.mean(hidden, -1), [0, 45], [2, 3]) as tf.Tensor2D;
    return loss(scores, labels);
  }, decoder.trainableVariables);
  return {
    value,
    grads: Object.values(grads),
    dispose: () => {
      tf.dispose([value, inputIds, labels, ...Object.values(grads)]);
      decoder.dispose();
    },
  };
}

/** Loss and gradients (in `trainableVariables` order) of one step on fixed weights and tokens. */
export function decoderLossAndGradients(): { loss: number; grads: Float32Array[] } {
  const step = decoderStep();
  const result = {
    loss: step.value.dataSync()[0]!,
    grads: step.grads.map((gradient) => gradient.dataSync() as Float32Array),
  };
  step.dispose();
  return result;
}

/** As {@link decoderLossAndGradients}, read back asynchronously (for backends such as webgpu). */
export async function decoderLossAndGradientsAsync(): Promise<{ loss: number; grads: Float32Array[] }> {
  const step = decoderStep();
  const result = {
    loss: (await step.value.data())[0]!,
    grads: (await Promise.all(step.grads.map((gradient) => gradient.data()))) as Float32Array[],
  };
  step.dispose();
  return result;
}
