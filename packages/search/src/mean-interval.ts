/** Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom. */
const T_95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** A mean with its 95% interval. */
export interface MeanInterval {
  mean: number;
  low: number;
  high: number;
  /** How many values. */
  count: number;
}

/**
 * The mean of some values with a 95% Student-t interval (over seeds, say), cut to `[min, max]`
 * when given (a share cannot pass 1). One value gives a zero-width interval; none gives NaN.
 */
export function meanWithInterval(
  values: readonly number[],
  bounds: { min?: number; max?: number } = {},
): MeanInterval {
  const count = values.length;
  if (count === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, count };
  const mean = values.reduce((sum, value) => sum + value, 0) / count;
  if (count === 1) return { mean, low: mean, high: mean, count };
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (count - 1);
  const half = (T_95[count - 2] ?? 1.96) * Math.sqrt(variance / count);
  const low = Math.max(mean - half, bounds.min ?? Number.NEGATIVE_INFINITY);
  const high = Math.min(mean + half, bounds.max ?? Number.POSITIVE_INFINITY);
  return { mean, low, high, count };
}
