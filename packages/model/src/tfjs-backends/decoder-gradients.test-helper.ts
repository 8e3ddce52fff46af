// Shared by the tests of the replacement wasm kernels (not exported from the package): a small Qwen2
// decoder's PQM loss and every gradient, to compare a kernel against the one it replaces.
import { getLoss } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { createRandomDecoder } from "../backbone/create-random-decoder.js";
import { AdamW } from "../training/adamw.js";
import { HostKernel, hasHostKernel } from "./wasm-host-kernels.js";

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

/**
 * `tf.softmax` whose gradient is the fused host kernel `PqmSoftmaxGrad` where the active backend has
 * it, and else the composed `(dy - sum(dy * y)) * y`: to compare the two.
 */
export function softmaxWithKernelGradient(logits: tf.Tensor): tf.Tensor {
  const softmax = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const y = tf.softmax(z);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        hasHostKernel(HostKernel.softmaxGrad)
          ? (tf.engine().runKernel(HostKernel.softmaxGrad, { y: saved[0] as tf.Tensor, dy }) as tf.Tensor)
          : tf.mul(tf.sub(dy, tf.sum(tf.mul(dy, saved[0] as tf.Tensor), -1, true)), saved[0] as tf.Tensor),
    };
  });
  return softmax(logits);
}

/** Deterministic values with a wide spread of magnitudes (1e-2 to 1e2, both signs). */
export function spreadValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let index = 0; index < count; index++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    out[index] = (state / 2 ** 32 - 0.5) * 10 ** ((index % 5) - 2);
  }
  return out;
}

/**
 * Four AdamW updates (weight decay 0.01; the last two with the gradients scaled as clipping would) of a
 * [37, 11] weight (407 values: neither SIMD lanes nor a 256-thread workgroup divide it) and an
 * 11-value bias, from fixed values; returns the parameters, then every moment, read back
 * asynchronously. The variables' source tensors are left live (two per call), as `tf.variable` leaves them.
 */
export async function adamWSteps(): Promise<Float32Array[]> {
  const parameters = new Map<string, tf.Variable>([
    ["w", tf.variable(tf.tensor2d(spreadValues(37 * 11, 3), [37, 11]))],
    ["w.bias", tf.variable(tf.tensor1d(spreadValues(11, 4)))],
  ]);
  const optimizer = new AdamW({ weightDecay: 0.01 });
  for (let step = 0; step < 4; step++) {
    const gradients = new Map<string, tf.Tensor>([
      ["w", tf.tensor2d(spreadValues(37 * 11, 10 + step), [37, 11])],
      ["w.bias", tf.tensor1d(spreadValues(11, 20 + step))],
    ]);
    optimizer.applyGradients(parameters, gradients, 1e-3 * (step + 1), {
      gradientScale: step < 2 ? 1 : 0.37,
    });
    tf.dispose([...gradients.values()]);
  }
  const state = await optimizer.getState();
  const out = (await Promise.all(
    [...parameters.values()].map((variable) => variable.data()),
  )) as Float32Array[];
  for (const moment of state.moments.values()) out.push(moment.data);
  tf.dispose([...parameters.values()]);
  optimizer.dispose();
  return out;
}

/**
 * A PQM-loss batch for the fused-loss tests: rows mixed with padding, all correct, all wrong, a wrong
 * step first and all padding, then `extraRows` varied rows; 6 steps; scores spread over about ±10.
 * `lossAndGradient(zeta)` gives 3 × the PQM loss and its gradient with respect to the scores.
 */
export function rankingLossCase(extraRows: number): {
  labelValues: number[];
  lossAndGradient(zeta: number): [tf.Tensor, tf.Tensor];
  dispose(): void;
} {
  const steps = 6;
  const labelRows = [
    [1, 1, 0, 1, 0, -100],
    [1, 1, 1, 1, 1, 1],
    [0, 0, 0, -100, -100, -100],
    [0, 1, 1, 0, 1, 1],
    [-100, -100, -100, -100, -100, -100],
    ...Array.from({ length: extraRows }, (_, row) =>
      Array.from({ length: steps }, (_, step) =>
        (row * 7 + step * 3) % 5 === 0 ? 0 : (row + step) % 9 === 0 ? -100 : 1,
      ),
    ),
  ];
  const rows = labelRows.length;
  const labelValues = labelRows.flat();
  const scores = tf.tensor2d(
    Array.from(spreadValues(rows * steps, 31), (v, index) => v * 20 + (index % 3) - 1),
    [rows, steps],
  );
  const labels = tf.tensor2d(labelValues, [rows, steps]);
  return {
    labelValues,
    lossAndGradient(zeta) {
      const loss = getLoss("pqm", { zeta });
      const { value, grads } = tf.valueAndGrads((input: tf.Tensor) =>
        tf.mul(loss(input as tf.Tensor2D, labels, labelValues), 3),
      )([scores]);
      return [value, grads[0] as tf.Tensor];
    },
    dispose() {
      tf.dispose([scores, labels]);
    },
  };
}
