/**
 * Step-score aggregation: how a solution's step scores (raw logits) become one solution score for
 * best-of-n. The paper's choice for PRMs is the minimum (see docs/method.md, section 7.1).
 */

/** The names of the built-in aggregations. */
export const aggregationNames = ["min", "max", "last", "mean", "prod-sigmoid", "sum-log-sigmoid"] as const;
export type AggregationName = (typeof aggregationNames)[number];

/** A function from one solution's step scores to its solution score (higher is better). */
export type Aggregation = (stepScores: readonly number[]) => number;

function requireSteps(name: string, stepScores: readonly number[]): void {
  if (stepScores.length === 0) {
    throw new RangeError(`aggregation '${name}': stepScores is empty (a solution needs at least one step)`);
  }
  for (let i = 0; i < stepScores.length; i++) {
    if (Number.isNaN(stepScores[i])) {
      throw new RangeError(`aggregation '${name}': stepScores[${i}] is NaN`);
    }
  }
}

/** log(sigmoid(x)) without overflow or underflow for large |x|. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/** sigmoid(x) = 1 / (1 + exp(-x)), stable for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** The smallest step score: a solution is as good as its worst step (the paper's default). */
export function minScore(stepScores: readonly number[]): number {
  requireSteps("min", stepScores);
  let best = Number.POSITIVE_INFINITY;
  for (const s of stepScores) if (s < best) best = s;
  return best;
}

/** The largest step score. */
export function maxScore(stepScores: readonly number[]): number {
  requireSteps("max", stepScores);
  let best = Number.NEGATIVE_INFINITY;
  for (const s of stepScores) if (s > best) best = s;
  return best;
}

/** The score of the last step (what an outcome reward model would give). */
export function lastScore(stepScores: readonly number[]): number {
  requireSteps("last", stepScores);
  return stepScores[stepScores.length - 1]!;
}

/** The arithmetic mean of the step scores. */
export function meanScore(stepScores: readonly number[]): number {
  requireSteps("mean", stepScores);
  let sum = 0;
  for (const s of stepScores) sum += s;
  return sum / stepScores.length;
}

/** The product of sigmoid(step score): the probability that every step is right, if independent. In [0, 1]. */
export function productOfSigmoids(stepScores: readonly number[]): number {
  return Math.exp(sumOfLogSigmoids(stepScores));
}

/** The sum of log(sigmoid(step score)): the log of `productOfSigmoids`, which does not underflow. */
export function sumOfLogSigmoids(stepScores: readonly number[]): number {
  requireSteps("sum-log-sigmoid", stepScores);
  let sum = 0;
  for (const s of stepScores) sum += logSigmoid(s);
  return sum;
}

const aggregations: Record<AggregationName, Aggregation> = {
  min: minScore,
  max: maxScore,
  last: lastScore,
  mean: meanScore,
  "prod-sigmoid": productOfSigmoids,
  "sum-log-sigmoid": sumOfLogSigmoids,
};

/** Returns the aggregation called `name`; throws a RangeError that lists the known names otherwise. */
export function getAggregation(name: string): Aggregation {
  const aggregation = (aggregations as Record<string, Aggregation | undefined>)[name];
  if (!aggregation) {
    throw new RangeError(`unknown aggregation '${name}' (known: ${aggregationNames.join(", ")})`);
  }
  return aggregation;
}

/** Aggregates one solution's step scores with the aggregation called `name` (default `min`). */
export function aggregateStepScores(stepScores: readonly number[], name: AggregationName = "min"): number {
  return getAggregation(name)(stepScores);
}
