import { getLoss, LABEL_PAD, registerGradients } from "@pqm/core";
import { deriveSeed, mulberry32 } from "@pqm/core/reference";
import * as tf from "@tensorflow/tfjs-core";
import { shuffled } from "../batching/seeded-shuffle.js";
import type { ValueHeadWeights } from "./decoder-onnx-graph.js";
import type { TagFeatureRow } from "./tag-hidden-states.js";

/** Options of {@link trainValueHeadOnFeatures}. */
export interface FeatureHeadTrainingOptions {
  /** Any `getLoss` name of @pqm/core (default `pqm`). */
  loss?: string;
  /** PQM margin (default 4). */
  zeta?: number;
  /** Train on soft labels (for `bce` / `mse`; rows without them use their hard labels). Default false. */
  softLabels?: boolean;
  /** Adam learning rate (default 1e-2). */
  learningRate?: number;
  /** Passes over the rows (default 20). */
  epochs?: number;
  /** Trajectories per step (default 32). */
  batchSize?: number;
  /** L2 penalty on the weight, added to the loss (default 0). */
  l2?: number;
  /** Shuffling seed (default 0). */
  seed?: number;
  /** Starting head (default zeros). */
  initial?: ValueHeadWeights;
}

/** A trained head and its per-step losses. */
export interface FeatureHeadTrainingResult {
  head: ValueHeadWeights;
  /** Training loss of every optimizer step, in order. */
  losses: number[];
}

/** One padded batch: features `[rows*steps, hidden]` (zeros at padding), labels `[rows, steps]` (`LABEL_PAD` at padding). */
function packBatch(rows: readonly TagFeatureRow[], hiddenSize: number, soft: boolean) {
  const steps = Math.max(...rows.map((row) => row.hardLabels.length));
  const features = new Float32Array(rows.length * steps * hiddenSize);
  const labels = new Float32Array(rows.length * steps).fill(LABEL_PAD);
  rows.forEach((row, index) => {
    features.set(row.hidden, index * steps * hiddenSize);
    const source = soft ? (row.softLabels ?? row.hardLabels) : row.hardLabels;
    source.forEach((label, step) => {
      labels[index * steps + step] = label;
    });
  });
  return { features, labels, steps };
}

/**
 * Trains a scalar value head (`score = hidden · weight + bias`) on hidden states taken at the step tags of a
 * frozen backbone (`extractTagHiddenStates`), with a loss of @pqm/core's registry (PQM's ranking loss by
 * default) and Adam. A small TF.js loop on the features alone: one matmul per step, no backbone, so it takes
 * seconds where full training takes minutes. Needs a TF.js backend (call `selectBackend()` first).
 * @throws LossInputError for an unknown loss, a bad zeta or labels the loss refuses; RangeError when there
 *   are no rows or their hidden sizes differ.
 */
export async function trainValueHeadOnFeatures(
  rows: readonly TagFeatureRow[],
  options: FeatureHeadTrainingOptions = {},
): Promise<FeatureHeadTrainingResult> {
  if (rows.length === 0) throw new RangeError("trainValueHeadOnFeatures: no rows");
  const first = rows[0] as TagFeatureRow;
  const hiddenSize = first.hidden.length / first.hardLabels.length;
  for (const row of rows) {
    if (row.hidden.length !== row.hardLabels.length * hiddenSize) {
      throw new RangeError(
        `trainValueHeadOnFeatures: row ${row.sourceIndex} has ${row.hidden.length} features for ${row.hardLabels.length} steps (hidden size ${hiddenSize})`,
      );
    }
  }
  registerGradients();
  const loss = getLoss(options.loss ?? "pqm", { zeta: options.zeta ?? 4 });
  const batchSize = options.batchSize ?? 32;
  const epochs = options.epochs ?? 20;
  const l2 = options.l2 ?? 0;
  const weight = tf.variable(
    options.initial === undefined
      ? tf.zeros([hiddenSize, 1])
      : tf.tensor2d(options.initial.weight, [hiddenSize, 1]),
    true,
  ); // [hidden, 1]
  const bias = tf.variable(tf.scalar(options.initial?.bias ?? 0), true);
  const optimizer = tf.train.adam(options.learningRate ?? 1e-2);
  const losses: number[] = [];
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = shuffled(
        rows.map((_, index) => index),
        mulberry32(deriveSeed(options.seed ?? 0, epoch)),
      );
      for (let start = 0; start < order.length; start += batchSize) {
        const batchRows = order.slice(start, start + batchSize).map((index) => rows[index] as TagFeatureRow);
        const packed = packBatch(batchRows, hiddenSize, options.softLabels === true);
        const value = tf.tidy(() => {
          const features = tf.tensor2d(packed.features, [batchRows.length * packed.steps, hiddenSize]);
          const labels = tf.tensor2d(packed.labels, [batchRows.length, packed.steps]);
          return optimizer.minimize(
            () => {
              const scores = tf.reshape(tf.add(tf.matMul(features, weight), bias), [
                batchRows.length,
                packed.steps,
              ]) as tf.Tensor2D; // [rows, steps]
              const base = loss(scores, labels);
              return l2 > 0 ? tf.add(base, tf.mul(l2, tf.sum(tf.square(weight)))) : base;
            },
            true,
            [weight, bias],
          ) as tf.Scalar;
        });
        losses.push((await value.data())[0] as number);
        value.dispose();
      }
    }
    return {
      head: { weight: Float32Array.from(await weight.data()), bias: (await bias.data())[0] as number },
      losses,
    };
  } finally {
    weight.dispose();
    bias.dispose();
    optimizer.dispose();
  }
}
