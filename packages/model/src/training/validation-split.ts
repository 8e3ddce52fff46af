import type { LabeledTrajectory } from "@pqm/core";
import { deriveSeed, mulberry32 } from "@pqm/core/reference";
import { shuffled } from "../batching/seeded-shuffle.js";

/**
 * Splits trajectories into training and validation sets by question (all solutions of a question go to
 * the same side, so validation measures unseen questions), reproducibly from `seed`.
 * @param fraction share of questions for validation, in [0, 1).
 * @throws RangeError for a fraction outside [0, 1).
 */
export function splitByQuestion(
  trajectories: readonly LabeledTrajectory[],
  fraction: number,
  seed: number,
): { train: LabeledTrajectory[]; validation: LabeledTrajectory[] } {
  if (!(fraction >= 0 && fraction < 1))
    throw new RangeError(`validation fraction ${fraction} must lie in [0, 1)`);
  const ids = [...new Set(trajectories.map((trajectory) => trajectory.question.id))];
  const held = new Set(
    shuffled(ids, mulberry32(deriveSeed(seed, 0x5eed))).slice(0, Math.round(ids.length * fraction)),
  );
  const train: LabeledTrajectory[] = [];
  const validation: LabeledTrajectory[] = [];
  for (const trajectory of trajectories)
    (held.has(trajectory.question.id) ? validation : train).push(trajectory);
  return { train, validation };
}
