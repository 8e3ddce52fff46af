/**
 * Rank statistics on plain numbers: midranks (ties share the mean of their ranks) and the area under
 * the ROC curve by the Mann-Whitney U statistic. No TF.js; the training loop's validation (model) and
 * the evaluation suite (eval) use the same code.
 */

/**
 * Midranks: 1-based ranks where tied values share the mean of the ranks they span (`[10, 20, 20, 30]`
 * gives `[1, 2.5, 2.5, 4]`). The basis of the tie-correct AUROC and of Spearman's correlation.
 * @throws RangeError naming the index of a NaN value.
 */
export function midranks(values: ArrayLike<number>): Float64Array {
  const count = values.length;
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    if (Number.isNaN(values[i])) throw new RangeError(`midranks: value ${i} is NaN`);
  }
  order.sort((a, b) => values[a]! - values[b]! || a - b);
  const ranks = new Float64Array(count);
  let start = 0;
  while (start < count) {
    let end = start + 1;
    while (end < count && values[order[end]!] === values[order[start]!]) end++;
    // Positions start..end-1 (0-based) hold equal values: 1-based ranks start+1..end, mean below.
    const shared = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]!] = shared;
    start = end;
  }
  return ranks;
}

/**
 * Area under the ROC curve of `scores` for telling positives from negatives: the probability that a
 * random positive outscores a random negative, ties counting one half. Computed exactly with the
 * Mann-Whitney U statistic on midranks: `(R+ - P(P+1)/2) / (P N)`.
 * @param labels one per score: `true` or `1` for a positive, `false` or `0` for a negative (hard step
 *   labels can be passed as they are).
 * @returns NaN when either class is empty.
 * @throws RangeError when the lengths differ, a score is NaN or a label is a number other than 0 and 1.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<boolean | number>): number {
  if (scores.length !== labels.length) {
    throw new RangeError(`auroc: ${scores.length} scores but ${labels.length} labels`);
  }
  const ranks = midranks(scores);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < ranks.length; i++) {
    const label = labels[i];
    if (typeof label === "number" && label !== 0 && label !== 1) {
      throw new RangeError(`auroc: label ${i} is ${label}, not 0 or 1`);
    }
    if (label === true || label === 1) {
      positives++;
      rankSum += ranks[i]!;
    }
  }
  const negatives = ranks.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
