/**
 * Area under the ROC curve of scores against binary labels, by the Mann-Whitney U statistic (ties count
 * one half): the probability that a random positive scores above a random negative. Written here
 * because @pqm/eval, which has the full metric suite, is not a dependency of the model package; this is
 * the 20 lines validation needs. Returns NaN when either class is empty.
 * @param scores any real numbers; `labels` 1 (positive) or 0, same length.
 * @throws RangeError when the lengths differ or a label is not 0 or 1.
 */
export function stepAuroc(scores: readonly number[], labels: readonly number[]): number {
  if (scores.length !== labels.length) {
    throw new RangeError(`stepAuroc: ${scores.length} scores for ${labels.length} labels`);
  }
  const order = scores.map((_, index) => index).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSumOfPositives = 0;
  // Average ranks (1-based) over runs of equal scores.
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      const label = labels[order[k]!];
      if (label !== 0 && label !== 1) throw new RangeError(`stepAuroc: label ${label} is not 0 or 1`);
      if (label === 1) {
        positives++;
        rankSumOfPositives += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  const u = rankSumOfPositives - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}
