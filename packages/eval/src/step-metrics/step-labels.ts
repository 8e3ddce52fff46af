import { auroc } from "@pqm/core/reference";

/** One trajectory's step scores (raw logits) against its step labels (hard 0/1 or soft in [0, 1]). */
export interface StepLabelTrajectory {
  stepScores: readonly number[];
  labels: readonly number[];
}

/** Options of {@link evaluateStepLabels}. */
export interface StepLabelOptions {
  /** A step is predicted correct when its score is at least this (default 0, i.e. sigmoid >= 0.5). */
  threshold?: number;
  /** A soft label counts as correct when it is at least this (default 0.5). Hard labels are unaffected. */
  softLabelCutoff?: number;
  /** Source name for error messages. */
  file?: string;
}

/** Step-level classification quality over all steps of all trajectories, pooled. */
export interface StepLabelMetrics {
  /** AUROC of the scores for correct (label 1) against wrong steps, midranks for ties. */
  auroc: number;
  /** Share of steps whose prediction (score >= threshold) matches the label. */
  accuracy: number;
  threshold: number;
  softLabelCutoff: number;
  /** Steps labeled correct and wrong. */
  positives: number;
  negatives: number;
}

/**
 * Step-level AUROC and accuracy at a threshold against labeled trajectories. Labels in (0, 1) are
 * soft and become correct when `>= softLabelCutoff` (0.5 by default); 0 and 1 are taken as they are.
 * Throws a RangeError naming the trajectory and step when lengths differ, a label is outside [0, 1]
 * or a score is NaN.
 */
export function evaluateStepLabels(
  trajectories: readonly StepLabelTrajectory[],
  options: StepLabelOptions = {},
): StepLabelMetrics {
  const threshold = options.threshold ?? 0;
  const cutoff = options.softLabelCutoff ?? 0.5;
  const file = options.file ?? "<trajectories>";
  const scores: number[] = [];
  const labels: boolean[] = [];
  trajectories.forEach((trajectory, t) => {
    if (trajectory.stepScores.length !== trajectory.labels.length) {
      throw new RangeError(
        `${file}: trajectory ${t}: ${trajectory.stepScores.length} step scores but ${trajectory.labels.length} labels`,
      );
    }
    trajectory.labels.forEach((label, s) => {
      const score = trajectory.stepScores[s]!;
      if (Number.isNaN(score)) throw new RangeError(`${file}: trajectory ${t}, step ${s}: score is NaN`);
      if (!(label >= 0 && label <= 1)) {
        throw new RangeError(`${file}: trajectory ${t}, step ${s}: label ${label} is outside [0, 1]`);
      }
      scores.push(score);
      labels.push(label >= cutoff);
    });
  });
  let agree = 0;
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i]) positives++;
    if (scores[i]! >= threshold === labels[i]) agree++;
  }
  return {
    auroc: auroc(scores, labels),
    accuracy: scores.length === 0 ? Number.NaN : agree / scores.length,
    threshold,
    softLabelCutoff: cutoff,
    positives,
    negatives: scores.length - positives,
  };
}
