import * as tf from "@tensorflow/tfjs-core";
import type { PrmBatch } from "./collate-rows.js";

/** A {@link PrmBatch} as TF.js tensors. The caller owns them (dispose, or create inside `tf.tidy`). */
export interface PrmBatchTensors {
  /** `[batch, sequence]` int32. */
  inputIds: tf.Tensor2D;
  /** `[batch, sequence]` int32. */
  attentionMask: tf.Tensor2D;
  /** `[batch, sequence]` int32. */
  positionIds: tf.Tensor2D;
  /** `[batch, steps]` int32. */
  tagPositions: tf.Tensor2D;
  /** `[batch, steps]` float32, 1 at real steps (float so it can weight losses directly). */
  stepMask: tf.Tensor2D;
  /** `[batch, steps]` float32 hard labels with `LABEL_PAD` at padding, or null. */
  labels: tf.Tensor2D | null;
  /** `[batch, steps]` float32 soft labels with `LABEL_PAD` at padding, or null. */
  softLabels: tf.Tensor2D | null;
}

/** Turns a padded batch into tensors on the active TF.js backend. */
export function batchToTensors(batch: PrmBatch): PrmBatchTensors {
  const tokens: [number, number] = [batch.batchSize, batch.sequenceLength];
  const steps: [number, number] = [batch.batchSize, batch.maxSteps];
  return {
    inputIds: tf.tensor2d(batch.inputIds, tokens, "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, tokens, "int32"),
    positionIds: tf.tensor2d(batch.positionIds, tokens, "int32"),
    tagPositions: tf.tensor2d(batch.tagPositions, steps, "int32"),
    stepMask: tf.tensor2d(Float32Array.from(batch.stepMask), steps, "float32"),
    labels: batch.labels === null ? null : tf.tensor2d(Float32Array.from(batch.labels), steps, "float32"),
    softLabels: batch.softLabels === null ? null : tf.tensor2d(batch.softLabels, steps, "float32"),
  };
}
