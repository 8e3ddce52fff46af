import { createRandom } from "./random.js";

/** A mean with a two-sided percentile interval. */
export interface Interval {
  /** The mean over the items that count (NaN items are excluded). */
  mean: number;
  /** Lower end of the interval (same units as the mean). */
  low: number;
  /** Upper end of the interval. */
  high: number;
  /** How many items counted. */
  count: number;
}

/** Options of the percentile bootstrap. */
export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

/**
 * Resample plans shared by several statistics, so that intervals of different methods come from the
 * same resampled question sets (paired). `indices[b * count + i]` is the i-th draw of resample b.
 */
export interface ResamplePlan {
  resamples: number;
  count: number;
  indices: Int32Array;
  level: number;
}

/** Draws a resample plan over `count` items (with replacement). Throws a RangeError on bad options. */
export function createResamplePlan(count: number, options: BootstrapOptions = {}): ResamplePlan {
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bootstrap resamples must be a positive integer, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap level must be in (0, 1), got ${level}`);
  const random = createRandom(options.seed ?? 0);
  const indices = new Int32Array(resamples * count);
  for (let k = 0; k < indices.length; k++) indices[k] = Math.floor(random() * count);
  return { resamples, count, indices, level };
}

/**
 * The mean of `values` with a percentile-bootstrap interval over items, using `plan` (which must have
 * been drawn for `values.length` items). NaN values mark excluded items: they are left out of the mean
 * and of every resample's mean. All-NaN input gives NaN everywhere and count 0.
 */
export function bootstrapMean(values: ArrayLike<number>, plan: ResamplePlan): Interval {
  if (values.length !== plan.count) {
    throw new RangeError(`bootstrap plan drawn for ${plan.count} items, got ${values.length} values`);
  }
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) {
      sum += v;
      count++;
    }
  }
  if (count === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, count: 0 };
  const means = new Float64Array(plan.resamples);
  let kept = 0;
  for (let b = 0; b < plan.resamples; b++) {
    let s = 0;
    let c = 0;
    const base = b * plan.count;
    for (let i = 0; i < plan.count; i++) {
      const v = values[plan.indices[base + i]!]!;
      if (!Number.isNaN(v)) {
        s += v;
        c++;
      }
    }
    if (c > 0) means[kept++] = s / c;
  }
  const sorted = means.subarray(0, kept).sort();
  const tail = (1 - plan.level) / 2;
  return { mean: sum / count, low: quantile(sorted, tail), high: quantile(sorted, 1 - tail), count };
}

/** Linear-interpolation quantile (type 7) of an ascending array; NaN for an empty one. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  const fraction = position - lower;
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * fraction;
}
