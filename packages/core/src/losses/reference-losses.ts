/**
 * Plain-number reference implementations of every loss (see docs/method.md, section 4), in float64 and log
 * space. They define what the TF.js losses must compute and work without TF.js.
 */

import { LABEL_PAD } from "../types.js";
import { logSumExp, softplus } from "./log-sum-exp.js";
import { type LossName, type LossOptions, PQM_EPS } from "./loss-definitions.js";
import { requireKnownLoss, resolveLossOptions, validateReferenceInputs } from "./loss-validation.js";

const LOG_EPS = Math.log(PQM_EPS);
const LOG_2 = Math.log(2);

/** The valid (non-padding) steps of one trajectory, in order. */
interface ValidSteps {
  scores: number[];
  labels: number[];
}

function validSteps(scores: readonly number[], labels: readonly number[]): ValidSteps {
  const kept: ValidSteps = { scores: [], labels: [] };
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === LABEL_PAD) continue;
    kept.scores.push(scores[i]!);
    kept.labels.push(labels[i]!);
  }
  return kept;
}

type RankingVariant = "practical" | "paper" | "ablation";

/** The terms of the PQM comparative loss of one trajectory: `term_0` (when there is a wrong step) and one per correct step. */
function rankingTerms(steps: ValidSteps, zeta: number, variant: RankingVariant): number[] {
  const { scores, labels } = steps;
  // log of each summand of S: every wrong step shifted by zeta, or (ablation) the first wrong step alone.
  const wrongLogs: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0) continue;
    if (variant === "ablation") {
      wrongLogs.push(scores[i]!);
      break;
    }
    wrongLogs.push(scores[i]! + zeta);
  }
  const terms: number[] = [];
  if (wrongLogs.length > 0) {
    // log(1 + S + eps): exp(Q_0) = 1 with the anchor fixed at 0.
    terms.push(logSumExp([0, LOG_EPS, ...wrongLogs]));
  }
  const earlierCorrect: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    const score = scores[i]!;
    // The October 2024 code counted the step's own exp twice from trajectory position 1 on.
    const own = variant === "paper" && i >= 1 ? score + LOG_2 : score;
    const logDenominator = logSumExp([own, 0, LOG_EPS, ...earlierCorrect, ...wrongLogs]);
    terms.push(logDenominator - score);
    earlierCorrect.push(score);
  }
  return terms;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** Eq. 9 as docs/method.md, section 4.2 describes it, for one trajectory with at least one valid step. */
function theoryLoss(steps: ValidSteps, zeta: number): number {
  const stepCount = steps.labels.length;
  const correctPart = sum(rankingTerms(steps, zeta, "paper")) / (stepCount + 1);
  const wrongScores: number[] = [];
  for (let i = 0; i < stepCount; i++) if (steps.labels[i] === 0) wrongScores.push(steps.scores[i]!);
  let wrongPart = 0;
  // Each wrong step ranked above the wrong steps after it; the last wrong step has no term.
  for (let k = 0; k + 1 < wrongScores.length; k++) {
    const score = wrongScores[k]!;
    wrongPart += logSumExp([score, LOG_EPS, ...wrongScores.slice(k + 1)]) - score;
  }
  return correctPart + wrongPart / stepCount;
}

/** Binary cross-entropy of sigmoid(score) against a target in [0, 1], from the logit (no log(0)). */
function binaryCrossEntropyFromLogit(score: number, target: number): number {
  return target * softplus(-score) + (1 - target) * softplus(score);
}

function sigmoidOf(score: number): number {
  return Math.exp(-softplus(-score));
}

function trajectoryMean(
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  perTrajectory: (steps: ValidSteps) => number,
): number {
  let total = 0;
  let count = 0;
  for (let row = 0; row < scores.length; row++) {
    const steps = validSteps(scores[row]!, labels[row]!);
    // An all-padding row takes no part in the batch mean.
    if (steps.labels.length === 0) continue;
    total += perTrajectory(steps);
    count++;
  }
  return count === 0 ? 0 : total / count;
}

function pooledMean(
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  perStep: (score: number, label: number) => number,
): number {
  let total = 0;
  let count = 0;
  for (let row = 0; row < scores.length; row++) {
    const steps = validSteps(scores[row]!, labels[row]!);
    for (let i = 0; i < steps.labels.length; i++) {
      total += perStep(steps.scores[i]!, steps.labels[i]!);
      count++;
    }
  }
  return count === 0 ? 0 : total / count;
}

/**
 * The loss called `name` on a batch of trajectories, in plain float64 numbers (docs/method.md, section 4).
 *
 * `scores[i]` are the raw step scores (logits) of trajectory i, `labels[i]` its labels: 1 correct,
 * 0 wrong, -100 padding (soft labels in [0, 1] for `bce` and `mse`). Rows may have different lengths
 * but each score row must be as long as its label row. The PQM losses and `orm` average over the
 * trajectories with at least one valid step; `bce` and `mse` average over all valid steps of the
 * batch. A batch without any valid step gives 0. Computed in log space: scores of +-100 give
 * finite values.
 *
 * @param options.zeta the margin of `pqm`, `pqm-paper` and `pqm-theory` (default 4, finite, >= 0).
 * @throws LossInputError for an unknown name, rows of different lengths, non-finite scores, labels
 *   the loss does not take, or a bad zeta.
 */
export function referenceLoss(
  name: LossName | string,
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  options: LossOptions = {},
): number {
  requireKnownLoss(name);
  const { zeta } = resolveLossOptions(options);
  validateReferenceInputs(name, scores, labels);
  switch (name as LossName) {
    case "pqm":
    case "pqm-paper":
    case "pqm-ablation": {
      const variant: RankingVariant =
        name === "pqm" ? "practical" : name === "pqm-paper" ? "paper" : "ablation";
      return trajectoryMean(scores, labels, (steps) => {
        const terms = rankingTerms(steps, zeta, variant);
        return sum(terms) / terms.length;
      });
    }
    case "pqm-theory":
      return trajectoryMean(scores, labels, (steps) => theoryLoss(steps, zeta));
    case "bce":
      return pooledMean(scores, labels, binaryCrossEntropyFromLogit);
    case "mse":
      return pooledMean(scores, labels, (score, label) => (sigmoidOf(score) - label) ** 2);
    case "orm":
      return trajectoryMean(scores, labels, (steps) => {
        const outcome = steps.labels.includes(0) ? 0 : 1;
        return binaryCrossEntropyFromLogit(steps.scores[steps.scores.length - 1]!, outcome);
      });
  }
}
