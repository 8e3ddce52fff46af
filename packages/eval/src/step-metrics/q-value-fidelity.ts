import { checkQValueOrdering } from "@pqm/core/reference";
import { spearman } from "../statistics/correlation.js";

/** One trajectory's step scores against its exact Q-values (and hard labels, for the ordering check). */
export interface QValueTrajectory {
  stepScores: readonly number[];
  /** Exact Q-values of the steps (probability of reaching a correct answer after each step). */
  qValues: readonly number[];
  /** Hard step labels (1 correct, 0 wrong), needed by the Theorem 3.5 ordering check. */
  hardLabels?: readonly number[];
}

/**
 * Decides whether one trajectory's scores satisfy the Theorem 3.5 ordering given its hard labels
 * (wrong steps descending, correct steps ascending, every wrong below every correct).
 */
export type QValueOrderingCheck = (stepScores: readonly number[], hardLabels: readonly number[]) => boolean;

/**
 * The Theorem 3.5 check of @pqm/core (`checkQValueOrdering`, strict) with the anchor Q_0 fixed at
 * `anchor`: 0 for raw scores (logits), as the reference code fixes it.
 */
export function theoremOrderingCheck(anchor = 0): QValueOrderingCheck {
  return (stepScores, hardLabels) =>
    checkQValueOrdering({ qValues: stepScores, labels: hardLabels, anchor }).holds;
}

/** How well scores track exact Q-values. */
export interface QValueFidelity {
  /** Spearman correlation (midranks) of all steps pooled. */
  spearmanPooled: number;
  /** Mean of the per-trajectory Spearman correlations, over trajectories where it is defined. */
  spearmanMeanPerTrajectory: number;
  /** Trajectories that entered the per-trajectory mean (at least two steps, neither side constant). */
  trajectoriesWithSpearman: number;
  /** Share of trajectories (with hard labels) whose scores satisfy the ordering; null when `check` is null. */
  orderingShare: number | null;
  /** Trajectories the ordering was checked on. */
  orderingChecked: number;
  steps: number;
}

/**
 * Spearman rank correlation between step scores and exact Q-values, pooled and per trajectory, and
 * the share of trajectories whose scores satisfy the Theorem 3.5 ordering according to `check`
 * (default: {@link theoremOrderingCheck} with anchor 0; `null` skips the check).
 * Throws a RangeError naming the trajectory when lengths differ or a value is NaN.
 */
export function evaluateQValueFidelity(
  trajectories: readonly QValueTrajectory[],
  check: QValueOrderingCheck | null = theoremOrderingCheck(0),
  file = "<trajectories>",
): QValueFidelity {
  const allScores: number[] = [];
  const allQ: number[] = [];
  let sum = 0;
  let defined = 0;
  let satisfied = 0;
  let checked = 0;
  trajectories.forEach((trajectory, t) => {
    const { stepScores, qValues, hardLabels } = trajectory;
    if (stepScores.length !== qValues.length) {
      throw new RangeError(
        `${file}: trajectory ${t}: ${stepScores.length} step scores but ${qValues.length} Q-values`,
      );
    }
    for (let s = 0; s < stepScores.length; s++) {
      if (Number.isNaN(stepScores[s]) || Number.isNaN(qValues[s])) {
        throw new RangeError(`${file}: trajectory ${t}, step ${s}: score or Q-value is NaN`);
      }
      allScores.push(stepScores[s]!);
      allQ.push(qValues[s]!);
    }
    const rho = spearman(stepScores, qValues);
    if (!Number.isNaN(rho)) {
      sum += rho;
      defined++;
    }
    if (check && hardLabels) {
      if (hardLabels.length !== stepScores.length) {
        throw new RangeError(
          `${file}: trajectory ${t}: ${stepScores.length} step scores but ${hardLabels.length} labels`,
        );
      }
      checked++;
      if (check(stepScores, hardLabels)) satisfied++;
    }
  });
  return {
    spearmanPooled: spearman(allScores, allQ),
    spearmanMeanPerTrajectory: defined === 0 ? Number.NaN : sum / defined,
    trajectoriesWithSpearman: defined,
    orderingShare: check ? (checked === 0 ? Number.NaN : satisfied / checked) : null,
    orderingChecked: checked,
    steps: allScores.length,
  };
}
