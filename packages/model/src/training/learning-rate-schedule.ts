/** How the learning rate falls after warm-up. */
export type LearningRateDecay = "linear" | "cosine" | "constant";

/** A warm-up-then-decay schedule. */
export interface LearningRateSchedule {
  /** The peak learning rate, reached at the end of warm-up. */
  peak: number;
  /** Steps of linear warm-up from 0 (default 0). */
  warmupSteps?: number;
  /** Steps of the whole run: the decay ends there. */
  totalSteps: number;
  /** Default `linear` (the reference's). */
  decay?: LearningRateDecay;
  /** The rate at the end of the decay (default 0). */
  minimum?: number;
}

/**
 * The learning rate of optimizer step `step` (0-based): linear warm-up over `warmupSteps` (step 0 gets
 * `peak / warmupSteps`, as Hugging Face's schedulers after their first step), then linear or cosine decay to
 * `minimum` at `totalSteps`; constant stays at `peak`.
 * @throws RangeError for a negative step or a non-positive peak or total.
 */
export function learningRateAt(step: number, schedule: LearningRateSchedule): number {
  const { peak, totalSteps } = schedule;
  const warmup = schedule.warmupSteps ?? 0;
  const minimum = schedule.minimum ?? 0;
  if (!(step >= 0)) throw new RangeError(`step ${step} must be >= 0`);
  if (!(peak > 0)) throw new RangeError(`learning rate ${peak} must be > 0`);
  if (!(totalSteps > 0)) throw new RangeError(`totalSteps ${totalSteps} must be > 0`);
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const decay = schedule.decay ?? "linear";
  if (decay === "constant") return peak;
  const span = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  const factor = decay === "linear" ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return minimum + (peak - minimum) * factor;
}
