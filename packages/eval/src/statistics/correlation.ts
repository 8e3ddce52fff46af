import { midranks } from "@pqm/core/reference";

/**
 * Spearman's rank correlation with ties: the Pearson correlation of the midranks of `x` and `y`, in
 * [-1, 1]. Returns NaN when fewer than two pairs or when either side is constant.
 * Throws a RangeError when the lengths differ or a value is NaN.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`spearman: ${x.length} values against ${y.length}`);
  if (x.length < 2) return Number.NaN;
  return pearson(midranks(x), midranks(y));
}

/** Pearson's correlation of two equally long arrays; NaN when either is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const count = x.length;
  let meanX = 0;
  let meanY = 0;
  for (let i = 0; i < count; i++) {
    meanX += x[i]!;
    meanY += y[i]!;
  }
  meanX /= count;
  meanY /= count;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < count; i++) {
    const dx = x[i]! - meanX;
    const dy = y[i]! - meanY;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return Number.NaN;
  return sxy / Math.sqrt(sxx * syy);
}
