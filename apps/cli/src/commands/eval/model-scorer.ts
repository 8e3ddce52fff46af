import type { Scorer } from "@pqm/core";
import { CliError } from "../../cli-error.js";

/**
 * The scorer of a trained checkpoint folder, for `--model` and `pqm score`: the one place where the
 * CLI will load @pqm/model. That package is still being written (no `ProcessRewardModel.load(folder)`
 * yet, and the CLI does not depend on it), so this always throws a CliError saying so and naming the
 * way round it: score elsewhere and pass a pqm-scores/1 file with `--scores`.
 */
export async function loadModelScorer(checkpoint: string): Promise<Scorer> {
  throw new CliError(
    `--model ${checkpoint}: scoring with a checkpoint is not available yet (@pqm/model has no ` +
      "process reward model loader); write the scores with another tool in the pqm-scores/1 format " +
      "and pass them with --scores",
  );
}
