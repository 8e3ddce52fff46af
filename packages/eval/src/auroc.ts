import { midranks } from "./ranks.js";

/**
 * Area under the ROC curve of `scores` for telling positives (`labels[i]` true) from negatives: the
 * probability that a random positive outscores a random negative, ties counting one half. Computed
 * exactly with the Mann-Whitney U statistic on midranks: `(R+ - P(P+1)/2) / (P N)`.
 * Returns NaN when either class is empty. Throws a RangeError when the lengths differ or a score is NaN.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  if (scores.length !== labels.length) {
    throw new RangeError(`auroc: ${scores.length} scores but ${labels.length} labels`);
  }
  const ranks = midranks(scores);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < ranks.length; i++) {
    if (labels[i]) {
      positives++;
      rankSum += ranks[i]!;
    }
  }
  const negatives = ranks.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
