/**
 * How each best-of-n method picks one candidate out of a subset. Inputs are plain arrays indexed by
 * candidate; a subset is the first `size` entries of `subset` (candidate indices, in any order).
 * Every rule is order-independent: ties always go to the smallest candidate index (the earliest in
 * the candidate file), so the reference protocol's "ties to the earliest" holds for every method.
 */

/** Marks a candidate with no extractable final answer in an answer-group array. */
export const NO_ANSWER_GROUP = -1;

/**
 * The candidate with the highest solution score in the subset; ties go to the smallest index.
 * Throws a RangeError on an empty subset.
 */
export function pickHighestScore(scores: ArrayLike<number>, subset: ArrayLike<number>, size: number): number {
  if (size < 1) throw new RangeError("pickHighestScore: empty subset");
  let best = subset[0]!;
  let bestScore = scores[best]!;
  for (let k = 1; k < size; k++) {
    const candidate = subset[k]!;
    const score = scores[candidate]!;
    if (score > bestScore || (score === bestScore && candidate < best)) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** Reusable buffers for the voting rules, sized for the largest group id of a question plus one. */
export interface VoteScratch {
  weights: Float64Array;
  earliest: Int32Array;
  touched: Int32Array;
}

/** Allocates vote buffers for answer-group ids `0 .. groupCount-1`. */
export function createVoteScratch(groupCount: number): VoteScratch {
  return {
    weights: new Float64Array(groupCount),
    earliest: new Int32Array(groupCount).fill(-1),
    touched: new Int32Array(groupCount),
  };
}

/**
 * Voting over answer groups: each candidate with an answer adds its weight (1 for majority vote) to
 * its group; the group with the largest total wins, ties going to the group whose earliest member in
 * the subset has the smallest candidate index. Returns that earliest member (the candidate whose
 * correctness counts), or -1 when no candidate in the subset has an answer.
 * `weights` of `null` means majority vote (every weight 1).
 */
export function pickByVote(
  groups: ArrayLike<number>,
  weights: ArrayLike<number> | null,
  subset: ArrayLike<number>,
  size: number,
  scratch: VoteScratch,
): number {
  let touchedCount = 0;
  for (let k = 0; k < size; k++) {
    const candidate = subset[k]!;
    const group = groups[candidate]!;
    if (group === NO_ANSWER_GROUP) continue;
    if (scratch.earliest[group] === -1) {
      scratch.touched[touchedCount++] = group;
      scratch.earliest[group] = candidate;
      scratch.weights[group] = 0;
    } else if (candidate < scratch.earliest[group]!) {
      scratch.earliest[group] = candidate;
    }
    scratch.weights[group]! += weights === null ? 1 : weights[candidate]!;
  }
  let winner = -1;
  let winnerWeight = Number.NEGATIVE_INFINITY;
  let winnerEarliest = Number.POSITIVE_INFINITY;
  for (let k = 0; k < touchedCount; k++) {
    const group = scratch.touched[k]!;
    const weight = scratch.weights[group]!;
    const earliest = scratch.earliest[group]!;
    if (weight > winnerWeight || (weight === winnerWeight && earliest < winnerEarliest)) {
      winner = earliest;
      winnerWeight = weight;
      winnerEarliest = earliest;
    }
    scratch.earliest[group] = -1;
  }
  return winner;
}

/**
 * The unbiased pass@n estimator for a question with `m` candidates of which `c` are correct: the
 * probability that a uniformly random subset of `n` distinct candidates holds at least one correct
 * one, `1 - C(m-c, n) / C(m, n)`, computed as a product so it never overflows.
 * Throws a RangeError unless `0 <= c <= m` and `1 <= n <= m`.
 */
export function passAtNUnbiased(m: number, c: number, n: number): number {
  if (!(Number.isInteger(m) && Number.isInteger(c) && Number.isInteger(n))) {
    throw new RangeError(`passAtNUnbiased: m, c, n must be integers (got ${m}, ${c}, ${n})`);
  }
  if (c < 0 || c > m || n < 1 || n > m) {
    throw new RangeError(`passAtNUnbiased: need 0 <= c <= m and 1 <= n <= m (got m=${m}, c=${c}, n=${n})`);
  }
  if (m - c < n) return 1;
  let allWrong = 1;
  for (let i = 0; i < n; i++) allWrong *= (m - c - i) / (m - i);
  return 1 - allWrong;
}
