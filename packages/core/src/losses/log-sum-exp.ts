/**
 * log(sum(exp(values))) for plain numbers, shifted by the maximum so that it neither overflows nor
 * underflows: written here because it is four lines and the reference losses must not need TF.js.
 * Returns -Infinity for an empty list.
 */
export function logSumExp(values: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of values) if (value > max) max = value;
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (const value of values) sum += Math.exp(value - max);
  return max + Math.log(sum);
}

/** softplus(x) = log(1 + exp(x)), stable for large |x|. */
export function softplus(x: number): number {
  return logSumExp([0, x]);
}
