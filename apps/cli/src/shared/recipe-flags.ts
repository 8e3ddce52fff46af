/**
 * The flags `pqm demo` and `pqm experiment` share, laid over @pqm/pipeline's recipes. Loaded only when
 * one of the commands runs (it brings the pipeline, and with it TF.js).
 */
import { type DemoRecipe, defaultDemoRecipe, quickDemoRecipe } from "@pqm/pipeline";
import { CliError } from "./cli-error.js";

/** The command-line flags `pqm demo` and `pqm experiment` share; absent ones keep the recipe's value. */
export interface DemoRecipeFlags {
  quick?: boolean;
  seeds?: number;
  seed?: number;
  trainSteps?: number;
  trainQuestions?: number;
  testQuestions?: number;
  candidates?: number;
  n?: number[];
  zeta?: number;
  /** `pqm demo` only: the search budgets N. */
  searchN?: number[];
  /** `pqm demo` only: false (`--no-search`) runs no searches. */
  search?: boolean;
}

/**
 * The recipe (default, or quick with `--quick`) with the flags laid over it.
 * @throws CliError (usage) when the largest n exceeds the candidates per question.
 */
export function demoRecipeFromFlags(flags: DemoRecipeFlags): DemoRecipe {
  const overrides: Partial<DemoRecipe> = {
    seeds: flags.seeds,
    seed: flags.seed,
    trainSteps: flags.trainSteps,
    trainQuestions: flags.trainQuestions,
    testQuestions: flags.testQuestions,
    candidates: flags.candidates,
    ns: flags.n,
    zeta: flags.zeta,
    searchNs: flags.search === false ? [] : flags.searchN,
  };
  const config: DemoRecipe = { ...(flags.quick ? quickDemoRecipe : defaultDemoRecipe) };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) Object.assign(config, { [key]: value });
  }
  const largest = Math.max(...config.ns);
  if (largest > config.candidates) {
    throw new CliError(`--n ${largest} is larger than --candidates ${config.candidates}`, 2);
  }
  const badSearch = config.searchNs.find((n) => n % config.beamWidth !== 0);
  if (badSearch !== undefined) {
    throw new CliError(`--search-n ${badSearch} is not a multiple of the beam width ${config.beamWidth}`, 2);
  }
  return config;
}
