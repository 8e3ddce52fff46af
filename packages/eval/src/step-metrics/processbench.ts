/**
 * ProcessBench (Zheng et al. 2024): each solution carries the index of its first wrong step, or -1
 * when every step is right. A PRM predicts the first step whose score falls under a threshold.
 */

/** One ProcessBench solution as plain data. */
export interface ProcessBenchItem {
  /** Index of the first wrong step, or -1 when all steps are right. */
  label: number;
  /** Step scores (raw logits), one per step. */
  stepScores: readonly number[];
}

/** Accuracy on erroneous and on correct solutions and their harmonic mean. Fractions in [0, 1]. */
export interface ProcessBenchMetrics {
  /** Share of solutions with an error whose first wrong step was found exactly. */
  errorAccuracy: number;
  /** Share of correct solutions where no step fell under the threshold. */
  correctAccuracy: number;
  /** Harmonic mean of the two (0 when both are 0). */
  f1: number;
  errorCount: number;
  correctCount: number;
  threshold: number;
}

/**
 * The ProcessBench label of step labels: the index of the first step labeled wrong (0), or -1 when
 * every step is right. For @pqm/data's `readProcessBench` trajectories this gives back the file's
 * `label`, since steps before it are labeled 1 and the rest 0.
 */
export function firstWrongStep(hardLabels: readonly number[]): number {
  return hardLabels.indexOf(0);
}

/** The predicted first wrong step: the first step with score `< threshold`, or -1 when none. */
export function predictFirstWrongStep(stepScores: readonly number[], threshold: number): number {
  for (let s = 0; s < stepScores.length; s++) if (stepScores[s]! < threshold) return s;
  return -1;
}

/**
 * ProcessBench metrics at a threshold (in the units of the scores). Throws a RangeError naming the item
 * when a label is not -1 or a step index, or a score is NaN.
 */
export function processBenchMetrics(
  items: readonly ProcessBenchItem[],
  threshold: number,
  file = "<processbench>",
): ProcessBenchMetrics {
  let errorHits = 0;
  let errorCount = 0;
  let correctHits = 0;
  let correctCount = 0;
  items.forEach((item, i) => {
    validateItem(item, i, file);
    const predicted = predictFirstWrongStep(item.stepScores, threshold);
    if (item.label === -1) {
      correctCount++;
      if (predicted === -1) correctHits++;
    } else {
      errorCount++;
      if (predicted === item.label) errorHits++;
    }
  });
  return summarize(errorHits, errorCount, correctHits, correctCount, threshold);
}

/**
 * The threshold maximizing F1 on `items` among every distinct step score and +Infinity (any threshold
 * between two neighboring candidates gives the same predictions as the upper one, since a step is
 * flagged when its score is strictly under the threshold). Ties go to the smallest threshold.
 * Runs in O(S log S) for S steps: each item is right on one interval of thresholds, added with
 * difference arrays. Throws a RangeError on bad items (see {@link processBenchMetrics}).
 */
export function chooseProcessBenchThreshold(
  items: readonly ProcessBenchItem[],
  file = "<processbench>",
): ProcessBenchMetrics {
  const values = new Set<number>();
  items.forEach((item, i) => {
    validateItem(item, i, file);
    for (const score of item.stepScores) values.add(score);
  });
  const candidates = Float64Array.from(values).sort();
  const thresholds = new Float64Array(candidates.length + 1);
  thresholds.set(candidates);
  thresholds[candidates.length] = Number.POSITIVE_INFINITY;
  const K = thresholds.length;
  const errorDiff = new Int32Array(K + 1);
  const correctDiff = new Int32Array(K + 1);
  let errorCount = 0;
  let correctCount = 0;
  for (const item of items) {
    // Prefix minima: the prediction at threshold t is the count of prefix minima >= t (or -1 if all).
    const steps = item.stepScores;
    let prefixMin = Number.POSITIVE_INFINITY;
    const minima = new Float64Array(steps.length);
    for (let s = 0; s < steps.length; s++) {
      prefixMin = Math.min(prefixMin, steps[s]!);
      minima[s] = prefixMin;
    }
    // Right when t lies in (lower, upper]: for label L >= 0, (min_L, min_{L-1}]; for -1, (-inf, min_last].
    let lower: number;
    let upper: number;
    if (item.label === -1) {
      correctCount++;
      lower = Number.NEGATIVE_INFINITY;
      upper = steps.length === 0 ? Number.POSITIVE_INFINITY : minima[steps.length - 1]!;
    } else {
      errorCount++;
      lower = minima[item.label]!;
      upper = item.label === 0 ? Number.POSITIVE_INFINITY : minima[item.label - 1]!;
    }
    if (!(upper > lower)) continue;
    const from = firstIndexAbove(thresholds, lower);
    const to = lastIndexAtMost(thresholds, upper);
    if (from > to) continue;
    const diff = item.label === -1 ? correctDiff : errorDiff;
    diff[from]!++;
    diff[to + 1]!--;
  }
  let best: ProcessBenchMetrics | null = null;
  let errorHits = 0;
  let correctHits = 0;
  for (let k = 0; k < K; k++) {
    errorHits += errorDiff[k]!;
    correctHits += correctDiff[k]!;
    const metrics = summarize(errorHits, errorCount, correctHits, correctCount, thresholds[k]!);
    if (best === null || metrics.f1 > best.f1) best = metrics;
  }
  return best ?? summarize(0, errorCount, 0, correctCount, 0);
}

/**
 * How the ProcessBench threshold is set.
 * - `fixed`: a step is flagged when sigmoid(score) is under `probability` (the score is a logit), the
 *   same threshold for every subset; Qwen2.5-Math-PRM's published figures use 0.5.
 * - `tune`: the threshold maximizing F1 on `subset` (ProcessBench's protocol for PRMs whose outputs
 *   are not calibrated chooses it on GSM8K), applied to every subset; that subset's row is in-sample.
 */
export type ProcessBenchThreshold = { kind: "fixed"; probability: number } | { kind: "tune"; subset: string };

/** The default threshold: sigmoid(score) < 0.5, i.e. a logit under 0. */
export const DEFAULT_PROCESSBENCH_THRESHOLD: ProcessBenchThreshold = { kind: "fixed", probability: 0.5 };

/** Result of {@link evaluateProcessBench}. */
export interface ProcessBenchEvaluation {
  /** How the threshold was set. */
  thresholdProtocol: ProcessBenchThreshold;
  /** The subset the threshold was chosen on (maximizing its F1); `null` for a fixed threshold. */
  thresholdSubset: string | null;
  /** The threshold in the units of the scores (a logit): a step is flagged when its score is under it. */
  threshold: number;
  /** Metrics per subset at that threshold; the choosing subset's numbers are in-sample. */
  subsets: Record<string, ProcessBenchMetrics>;
  /** Unweighted mean F1 over every subset (the published figures' "average"). */
  meanF1: number;
  /**
   * Unweighted mean F1 over the subsets other than the choosing one (NaN when there are none); for a
   * fixed threshold every subset is held out and this equals `meanF1`.
   */
  heldOutMeanF1: number;
}

/** The logit of a probability in (0, 1): a score under it has sigmoid(score) under the probability. */
export function probabilityToLogit(probability: number): number {
  return Math.log(probability) - Math.log1p(-probability);
}

/**
 * ProcessBench over several subsets at one threshold for all of them: by default a fixed one
 * (sigmoid(score) < 0.5); `{ kind: "tune", subset }` (or the subset's name alone) chooses the
 * threshold maximizing F1 on that subset. Throws a RangeError when the subset is unknown or the
 * probability is not strictly between 0 and 1.
 */
export function evaluateProcessBench(
  subsets: Record<string, readonly ProcessBenchItem[]>,
  threshold: ProcessBenchThreshold | string = DEFAULT_PROCESSBENCH_THRESHOLD,
): ProcessBenchEvaluation {
  const names = Object.keys(subsets);
  const protocol: ProcessBenchThreshold =
    typeof threshold === "string" ? { kind: "tune", subset: threshold } : threshold;
  let value: number;
  let chosenOn: string | null = null;
  if (protocol.kind === "fixed") {
    const p = protocol.probability;
    if (!(p > 0 && p < 1)) {
      throw new RangeError(`processbench: threshold probability must be strictly between 0 and 1, got ${p}`);
    }
    value = probabilityToLogit(p);
    // Every item is checked even when no threshold is chosen.
    for (const name of names) {
      subsets[name]!.forEach((item, i) => {
        validateItem(item, i, name);
      });
    }
  } else {
    chosenOn = protocol.subset;
    if (!(chosenOn in subsets)) {
      throw new RangeError(
        `processbench: unknown threshold subset '${chosenOn}' (have: ${names.join(", ")})`,
      );
    }
    value = chooseProcessBenchThreshold(subsets[chosenOn]!, chosenOn).threshold;
  }
  const results: Record<string, ProcessBenchMetrics> = {};
  for (const name of names) results[name] = processBenchMetrics(subsets[name]!, value, name);
  const mean = (values: number[]) =>
    values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
  return {
    thresholdProtocol: protocol,
    thresholdSubset: chosenOn,
    threshold: value,
    subsets: results,
    meanF1: mean(names.map((name) => results[name]!.f1)),
    heldOutMeanF1: mean(names.filter((name) => name !== chosenOn).map((name) => results[name]!.f1)),
  };
}

function summarize(
  errorHits: number,
  errorCount: number,
  correctHits: number,
  correctCount: number,
  threshold: number,
): ProcessBenchMetrics {
  const errorAccuracy = errorCount === 0 ? Number.NaN : errorHits / errorCount;
  const correctAccuracy = correctCount === 0 ? Number.NaN : correctHits / correctCount;
  const f1 =
    errorAccuracy + correctAccuracy === 0
      ? 0
      : (2 * errorAccuracy * correctAccuracy) / (errorAccuracy + correctAccuracy);
  return { errorAccuracy, correctAccuracy, f1, errorCount, correctCount, threshold };
}

function validateItem(item: ProcessBenchItem, index: number, file: string): void {
  if (!Number.isInteger(item.label) || item.label < -1 || item.label >= item.stepScores.length) {
    throw new RangeError(
      `${file}: item ${index}: label ${item.label} is neither -1 nor a step index (${item.stepScores.length} steps)`,
    );
  }
  item.stepScores.forEach((score, s) => {
    if (Number.isNaN(score)) throw new RangeError(`${file}: item ${index}, step ${s}: score is NaN`);
  });
}

/** First k with sorted[k] > value (sorted.length when none). */
function firstIndexAbove(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! > value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Last k with sorted[k] <= value (-1 when none). */
function lastIndexAtMost(sorted: Float64Array, value: number): number {
  return firstIndexAbove(sorted, value) - 1;
}
