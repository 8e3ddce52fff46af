/**
 * Every loss of docs/method.md, section 4 as differentiable TF.js ops over padded `[batch, steps]`
 * batches, vectorized: the cumulative sums of the PQM denominators are log-sum-exps over a
 * `[batch, steps, steps]` tensor masked by a lower-triangular `[steps, steps]` mask, never a
 * per-row JS loop. They compute exactly what `referenceLoss` computes (float32 instead of float64).
 * Inputs are not validated here: `getLoss` does that.
 */
// Gradients: tfjs-core registers none by itself; the main entry (index.ts) registers them.
import * as tf from "@tensorflow/tfjs-core";
import { LABEL_PAD } from "../types.js";
import { PQM_EPS } from "./loss-definitions.js";

const LOG_EPS = Math.log(PQM_EPS);
const LOG_2 = Math.log(2);
// Stands in for log(0) = -Infinity: finite, so masked entries cannot turn into NaN (0 * Infinity or
// Infinity - Infinity) in the forward pass or in the gradient, and exp(NEG - max) is exactly 0.
const NEG = -1e9;

/** Which of the comparative losses: practical (Eq. 10), paper-era, theory (Eq. 9), ablation (Eq. 12). */
export type RankingVariant = "practical" | "paper" | "theory" | "ablation";

/** Masks and padded-out scores shared by every loss; all `[batch, steps]` float32. */
interface BatchParts {
  /** Scores with padded positions set to 0, so whatever a model wrote there cannot leak in. */
  scores: tf.Tensor2D;
  /** Label values with padding set to 0 (targets for bce, mse). */
  targets: tf.Tensor2D;
  valid: tf.Tensor2D;
  correct: tf.Tensor2D;
  wrong: tf.Tensor2D;
  /** 1 for rows with at least one valid step: only these take part in a batch mean. `[batch]`. */
  rowValid: tf.Tensor1D;
}

function batchParts(scores: tf.Tensor2D, labels: tf.Tensor2D): BatchParts {
  const labelValues = tf.cast(labels, "float32");
  const isValid = tf.notEqual(labelValues, LABEL_PAD);
  const valid = tf.cast(isValid, "float32") as tf.Tensor2D;
  return {
    scores: tf.where(isValid, tf.cast(scores, "float32"), tf.zerosLike(scores)) as tf.Tensor2D,
    targets: tf.where(isValid, labelValues, tf.zerosLike(labelValues)) as tf.Tensor2D,
    valid,
    correct: tf.cast(tf.equal(labelValues, 1), "float32") as tf.Tensor2D,
    wrong: tf.cast(tf.equal(labelValues, 0), "float32") as tf.Tensor2D,
    rowValid: tf.cast(tf.greater(tf.sum(valid, 1), 0), "float32") as tf.Tensor1D,
  };
}

/** `[steps, steps]` float masks: `earlier[t][s]` = s < t, `later[t][s]` = s > t, `same[t][s]` = s == t. */
function positionMasks(steps: number): { earlier: tf.Tensor2D; later: tf.Tensor2D; same: tf.Tensor2D } {
  const positions = tf.range(0, steps, 1, "int32");
  const rowIndex = tf.reshape(positions, [steps, 1]); // t
  const columnIndex = tf.reshape(positions, [1, steps]); // s
  return {
    earlier: tf.cast(tf.less(columnIndex, rowIndex), "float32") as tf.Tensor2D,
    later: tf.cast(tf.greater(columnIndex, rowIndex), "float32") as tf.Tensor2D,
    same: tf.cast(tf.equal(columnIndex, rowIndex), "float32") as tf.Tensor2D,
  };
}

/** For each `[b, t]`: how many s with `indicator[b][s]` = 1 satisfy `mask[t][s]`. Returns `[batch, steps]`. */
function countWhere(indicator: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const [batch, steps] = indicator.shape;
  // [batch, 1, steps] * [1, steps, steps] -> [batch, steps, steps], summed over s
  return tf.sum(tf.mul(tf.reshape(indicator, [batch, 1, steps]), tf.reshape(mask, [1, steps, steps])), 2);
}

/**
 * For each `[b, t]`: log(sum over s with include[b][t][s] > 0 of exp(values[b][t][s]) + the constant
 * summands). `include`, `values` are `[batch, steps, steps]`; `logConstants` are logs of the summands
 * that every denominator has (the anchor's exp(0) = 1, eps). Returns `[batch, steps]`.
 */
function maskedLogSumExp(
  include: tf.Tensor3D,
  values: tf.Tensor3D,
  logConstants: readonly number[],
): tf.Tensor2D {
  const [batch, steps] = include.shape;
  const masked = tf.where(tf.greater(include, 0), values, tf.fill(values.shape, NEG)); // [batch, steps, steps]
  const constants = logConstants.map((value) => tf.fill([batch, steps, 1], value)); // each [batch, steps, 1]
  return tf.logSumExp(tf.concat([masked, ...constants], 2), 2) as tf.Tensor2D;
}

/** Batch mean of per-row losses over the rows with at least one valid step; 0 when there are none. */
function meanOverValidRows(rowLoss: tf.Tensor1D, rowValid: tf.Tensor1D): tf.Scalar {
  return tf.div(tf.sum(tf.mul(rowLoss, rowValid)), tf.maximum(tf.sum(rowValid), 1)) as tf.Scalar;
}

/** Mean over all valid steps of the batch (pooled); 0 when there are none. */
function pooledMean(perStep: tf.Tensor2D, valid: tf.Tensor2D): tf.Scalar {
  return tf.div(tf.sum(tf.mul(perStep, valid)), tf.maximum(tf.sum(valid), 1)) as tf.Scalar;
}

/**
 * A PQM comparative loss of a padded batch (see docs/method.md, 4.1-4.3): `scores` `[batch, steps]` logits,
 * `labels` `[batch, steps]` with 1 correct, 0 wrong, -100 padding. Returns the mean over the rows
 * with at least one valid step. Inputs are assumed valid (see `getLoss`).
 */
export function pqmRankingLossTensor(
  scores: tf.Tensor2D,
  labels: tf.Tensor2D,
  zeta: number,
  variant: RankingVariant,
): tf.Scalar {
  if (variant === "practical" && scores.dtype === "float32" && hasFusedRankingLoss()) {
    return fusedRankingLoss(scores, labels, zeta);
  }
  return tf.tidy(() => {
    const [batch, steps] = scores.shape;
    const parts = batchParts(scores, labels);
    const { earlier, later, same } = positionMasks(steps);
    const r = parts.scores;

    // Which steps make up S, and their shift: all wrong steps + zeta, or (ablation) the first wrong step alone.
    const isAblation = variant === "ablation";
    const inS = isAblation
      ? tf.mul(parts.wrong, tf.cast(tf.equal(countWhere(parts.wrong, earlier), 0), "float32"))
      : parts.wrong; // [batch, steps]
    const shift = isAblation ? 0 : zeta;
    const hasWrong = tf.cast(tf.greater(tf.sum(inS, 1), 0), "float32"); // [batch]

    // term_0 = log(1 + S + eps)
    const sLogits = tf.where(tf.greater(inS, 0), tf.add(r, shift), tf.fill([batch, steps], NEG));
    const anchorAndEps = tf.concat([tf.zeros([batch, 1]), tf.fill([batch, 1], LOG_EPS)], 1);
    const term0 = tf.logSumExp(tf.concat([sLogits, anchorAndEps], 1), 1) as tf.Tensor1D; // [batch]

    // Denominator of the term of a correct step t: itself, the earlier correct steps, S, the anchor, eps.
    const r3 = tf.reshape(r, [batch, 1, steps]); // [batch, 1(t), steps(s)]
    const inS3 = tf.reshape(inS, [batch, 1, steps]);
    const correct3 = tf.reshape(parts.correct, [batch, 1, steps]);
    const earlier3 = tf.reshape(earlier, [1, steps, steps]);
    const same3 = tf.reshape(same, [1, steps, steps]);
    const include = tf.add(tf.add(inS3, tf.mul(correct3, earlier3)), same3) as tf.Tensor3D; // [batch, steps, steps]
    let values = tf.add(tf.add(r3, tf.mul(inS3, shift)), tf.zeros([1, steps, steps])) as tf.Tensor3D;
    if (variant === "paper" || variant === "theory") {
      // Own exp counted twice from the second valid step of the trajectory on: + log 2 on the diagonal.
      const doubled = tf.cast(tf.greater(countWhere(parts.valid, earlier), 0), "float32"); // [batch, steps]
      values = tf.add(values, tf.mul(tf.reshape(tf.mul(doubled, LOG_2), [batch, steps, 1]), same3));
    }
    const logDenominator = maskedLogSumExp(include, values, [0, LOG_EPS]); // [batch, steps]
    const correctTerms = tf.mul(tf.sub(logDenominator, r), parts.correct); // [batch, steps]
    const rowSum = tf.add(tf.sum(correctTerms, 1), tf.mul(term0, hasWrong)); // [batch]

    let rowLoss: tf.Tensor1D;
    if (variant === "theory") {
      const stepCount = tf.sum(parts.valid, 1); // H, [batch]
      const correctPart = tf.div(rowSum, tf.add(stepCount, 1));
      // Each wrong step ranked above the wrong steps after it (no margin); the last one has no term.
      const wrong3 = tf.reshape(parts.wrong, [batch, 1, steps]);
      const wrongInclude = tf.add(tf.mul(wrong3, tf.reshape(later, [1, steps, steps])), same3) as tf.Tensor3D;
      const wrongValues = tf.add(r3, tf.zeros([1, steps, steps])) as tf.Tensor3D;
      const wrongLogDenominator = maskedLogSumExp(wrongInclude, wrongValues, [LOG_EPS]);
      const hasLaterWrong = tf.cast(tf.greater(countWhere(parts.wrong, later), 0), "float32");
      const wrongTerms = tf.mul(tf.sub(wrongLogDenominator, r), tf.mul(parts.wrong, hasLaterWrong));
      const wrongPart = tf.div(tf.sum(wrongTerms, 1), tf.maximum(stepCount, 1));
      rowLoss = tf.add(correctPart, wrongPart) as tf.Tensor1D;
    } else {
      const termCount = tf.add(tf.sum(parts.correct, 1), hasWrong);
      rowLoss = tf.div(rowSum, tf.maximum(termCount, 1)) as tf.Tensor1D;
    }
    return meanOverValidRows(rowLoss, parts.rowValid);
  });
}

/**
 * The kernel name under which a backend may provide the practical PQM loss (`pqm`) fused: inputs
 * `scores` and `labels` (`[batch, steps]` float32; labels 1, 0 or -100), attrs `zeta` and `logEps`
 * (log of the denominators' eps); outputs the loss (`[1]`) and its gradient with respect to the
 * scores (`[batch, steps]`, 0 at padding). Where the active backend has it, `getLoss("pqm")` runs it
 * instead of the composed operations (about 60 kernels forward and backward) and its backward pass
 * is one multiplication by the upstream gradient. `@pqm/model` registers one on webgpu.
 */
export const PQM_RANKING_LOSS_KERNEL = "PqmRankingLoss";

function hasFusedRankingLoss(): boolean {
  return tf.getKernel(PQM_RANKING_LOSS_KERNEL, tf.getBackend()) !== undefined;
}

function fusedRankingLoss(scores: tf.Tensor2D, labels: tf.Tensor2D, zeta: number): tf.Scalar {
  return tf.tidy(() => {
    const labelValues = labels.dtype === "float32" ? labels : tf.cast(labels, "float32");
    const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const [value, gradient] = tf
        .engine()
        .runKernel(
          PQM_RANKING_LOSS_KERNEL,
          { scores: input, labels: labelValues },
          { zeta, logEps: LOG_EPS },
        ) as [tf.Tensor, tf.Tensor];
      save([gradient]);
      return {
        value: tf.reshape(value, []),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0] as tf.Tensor, dy),
      };
    });
    return loss(scores) as tf.Scalar;
  });
}

/** Binary cross-entropy of sigmoid(logits) against targets in [0, 1], from the logits: `[batch, steps]`. */
function binaryCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  // softplus(-x) = -log(sigmoid(x)) and softplus(x) = -log(1 - sigmoid(x)), with no log(0).
  return tf.add(
    tf.mul(targets, tf.softplus(tf.neg(logits))),
    tf.mul(tf.sub(1, targets), tf.softplus(logits)),
  );
}

/** BCE of sigmoid(scores) against hard or soft labels, pooled over the valid steps of the batch. */
export function bceLossTensor(scores: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const parts = batchParts(scores, labels);
    return pooledMean(binaryCrossEntropy(parts.scores, parts.targets) as tf.Tensor2D, parts.valid);
  });
}

/** (sigmoid(scores) - labels)^2, pooled over the valid steps of the batch. */
export function mseLossTensor(scores: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const parts = batchParts(scores, labels);
    return pooledMean(
      tf.squaredDifference(tf.sigmoid(parts.scores), parts.targets) as tf.Tensor2D,
      parts.valid,
    );
  });
}

/** BCE of the last valid step's score against the outcome (1 when no step is labeled wrong), per row. */
export function ormLossTensor(scores: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [, steps] = scores.shape;
    const parts = batchParts(scores, labels);
    const { later } = positionMasks(steps);
    const isLast = tf.mul(parts.valid, tf.cast(tf.equal(countWhere(parts.valid, later), 0), "float32"));
    const lastScore = tf.sum(tf.mul(parts.scores, isLast), 1); // [batch]
    const outcome = tf.cast(tf.equal(tf.sum(parts.wrong, 1), 0), "float32"); // [batch]
    return meanOverValidRows(binaryCrossEntropy(lastScore, outcome) as tf.Tensor1D, parts.rowValid);
  });
}
