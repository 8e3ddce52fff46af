/**
 * The loss registry: from a loss name (as a config writes it, `loss: "pqm", zeta: 4`) to a TF.js
 * loss function. The built-in losses are registered here; users can add their own.
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  type LabelKind,
  type LossName,
  type LossOptions,
  lossLabelKinds,
  lossNames,
} from "./loss-definitions.js";
import {
  LossInputError,
  type ResolvedLossOptions,
  requireKnownLoss,
  resolveLossOptions,
  validateLabelValues,
  validateLossShapes,
} from "./loss-validation.js";
import {
  bceLossTensor,
  mseLossTensor,
  ormLossTensor,
  pqmRankingLossTensor,
  type RankingVariant,
} from "./tensor-losses.js";

/**
 * A loss over a padded batch: `scores` `[batch, steps]` raw step scores (logits), `labels`
 * `[batch, steps]` (-100 for padding). Returns a scalar, differentiable in `scores`.
 *
 * `labelValues`, when given, are the labels' values as the caller holds them on the host (row-major,
 * `batch * steps` numbers, the data the `labels` tensor was made from): the losses of `getLoss` check
 * these instead of reading the tensor back from the backend. Pass them on backends that cannot read a
 * tensor synchronously (WebGPU in Node) and wherever the labels are at hand anyway (training loops):
 * the check then costs no round trip to the device.
 */
export type TensorLoss = (
  scores: tf.Tensor2D,
  labels: tf.Tensor2D,
  labelValues?: ArrayLike<number>,
) => tf.Scalar;

/** Builds a loss function from checked options (zeta filled in). */
export type TensorLossFactory = (options: ResolvedLossOptions) => TensorLoss;

interface RegisteredLoss {
  factory: TensorLossFactory;
  labelKind: LabelKind;
}

const rankingVariants: Record<string, RankingVariant> = {
  pqm: "practical",
  "pqm-paper": "paper",
  "pqm-theory": "theory",
  "pqm-ablation": "ablation",
};

const registry = new Map<string, RegisteredLoss>();
for (const name of lossNames) {
  const variant = rankingVariants[name];
  const factory: TensorLossFactory = variant
    ? ({ zeta }) =>
        (scores, labels) =>
          pqmRankingLossTensor(scores, labels, zeta, variant)
    : () => (name === "bce" ? bceLossTensor : name === "mse" ? mseLossTensor : ormLossTensor);
  registry.set(name, { factory, labelKind: lossLabelKinds[name] });
}

/** The names `getLoss` knows: the built-in `lossNames`, then those added with `registerLoss`. */
export function registeredLossNames(): string[] {
  return [...registry.keys()];
}

/**
 * Adds a loss under `name`, so that `getLoss(name)` returns it with the same input checks as the
 * built-in ones (shapes, and labels of `labelKind`: `hard` 0/1 or `soft` [0, 1], both with -100).
 * @throws LossInputError when `name` is empty or already registered (built-in names cannot be replaced).
 */
export function registerLoss(
  name: string,
  factory: TensorLossFactory,
  options: { labelKind?: LabelKind } = {},
): void {
  if (name.length === 0) throw new LossInputError("registerLoss: name is empty");
  if (registry.has(name)) {
    throw new LossInputError(`registerLoss: loss = '${name}' is already registered`);
  }
  registry.set(name, { factory, labelKind: options.labelKind ?? "soft" });
}

/**
 * Returns the TF.js loss called `name` (a built-in `LossName` or one added with `registerLoss`).
 * The returned function checks its inputs on every call: both `[batch, steps]` of the same shape, and
 * labels the loss takes, from `labelValues` when given (host data, nothing is read from the backend)
 * or else from the `labels` tensor read back synchronously (a small copy; on a backend that cannot
 * read synchronously, such as WebGPU in Node, the call then fails with a `LossInputError` asking for
 * `labelValues`). It then returns the loss as a scalar tensor (the caller disposes of it).
 * Numerically stable: scores of +-100 give finite losses and gradients. Gradients need tfjs-core's
 * gradient registrations, which this module imports.
 *
 * @param options.zeta margin of the PQM losses (default 4, finite, >= 0).
 * @throws LossInputError for an unknown name or a bad zeta (here), and for bad shapes or labels (when
 *   called), or `labelValues` whose length is not the labels' size.
 */
export function getLoss(name: LossName | string, options: LossOptions = {}): TensorLoss {
  requireKnownLoss(name, registeredLossNames());
  const resolved = resolveLossOptions(options);
  const entry = registry.get(name)!;
  const loss = entry.factory(resolved);
  return (scores, labels, labelValues) => {
    validateLossShapes(name, scores.shape, labels.shape);
    validateLabelValues(name, hostLabels(name, labels, labelValues), labels.shape[1] ?? 0, entry.labelKind);
    return loss(scores, labels);
  };
}

/** The labels' values to check: the caller's host copy, or the tensor read back synchronously. */
function hostLabels(name: string, labels: tf.Tensor2D, labelValues: ArrayLike<number> | undefined) {
  if (labelValues !== undefined) {
    if (labelValues.length !== labels.size) {
      throw new LossInputError(
        `loss '${name}': labelValues holds ${labelValues.length} numbers, the labels [${labels.shape.join(", ")}] ${labels.size}`,
      );
    }
    return labelValues;
  }
  try {
    return labels.dataSync();
  } catch (error) {
    throw new LossInputError(
      `loss '${name}': the labels cannot be read back synchronously on this backend (${(error as Error).message}); pass their values as the loss's third argument, labelValues`,
      { cause: error },
    );
  }
}
