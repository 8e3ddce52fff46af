/**
 * The demo's recipe as flat named values (nanoGPT style): sizes chosen so that the whole run, two
 * models and their searches included, fits in under five minutes a seed on two CPU cores with the
 * wasm backend. The experiments take the same recipe and vary one thing.
 */
import type { ArithPolicyOptions, ArithProblemOptions } from "@pqm/data";

/** Everything the demo and the experiments do is decided by this object and the seed in it. */
export interface DemoRecipe {
  /** The arith environment's problem generator: short problems with small numbers, so a tiny model can learn to check steps. */
  problems: ArithProblemOptions;
  /** The arith environment's policy: how often and how its sampled solutions go wrong. */
  policy: ArithPolicyOptions;
  /** Train the models in worker threads, two at once (one core each); false trains them one after another in the calling thread. */
  parallel: boolean;
  /** Seed of the first run; run k uses `seed + k`. The experiments use this seed only. */
  seed: number;
  /** Repeats of the whole demo with consecutive seeds (the experiments run once). */
  seeds: number;
  /** Training questions of the arith environment. */
  trainQuestions: number;
  /** Solutions sampled per training question. */
  samplesPerQuestion: number;
  /** Monte-Carlo rollouts per step when annotating (Math-Shepherd's N). */
  rollouts: number;
  /** Held-out test questions for best-of-n. */
  testQuestions: number;
  /** Candidate solutions sampled per test question. */
  candidates: number;
  /** Best-of-n sizes reported; none may exceed `candidates`. */
  ns: number[];
  /** Optimizer steps of each model (the same budget for every model). */
  trainSteps: number;
  /** Trajectories per batch. */
  batchSize: number;
  /** Peak learning rate (AdamW, 10% warm-up, linear decay). */
  learningRate: number;
  /** The PQM margin (the experiments' zeta sweep replaces it per model). */
  zeta: number;
  /** Hidden size of the backbone, a small Llama trained from scratch. */
  hiddenSize: number;
  /** Decoder layers of the backbone. */
  layers: number;
  /** Attention heads of the backbone. */
  heads: number;
  /** Key-value heads of the backbone (grouped-query attention when fewer than `heads`). */
  kvHeads: number;
  /** Width of the backbone's feed-forward layers. */
  intermediateSize: number;
  /** Random subsets per question and n for best-of-n. */
  subsets: number;
  /** Bootstrap resamples of the best-of-n intervals. */
  bootstrapResamples: number;
  /**
   * Budgets N of the searches (each a multiple of `beamWidth`): step-level beam search with N paths
   * against best-of-N sampled afresh, at the same generated tokens, each guided by the trained PQM and
   * BCE models and by the exact-Q oracle. Empty: no search.
   */
  searchNs: number[];
  /** Beam width m of the beam search (N/m paths kept, m children each). */
  beamWidth: number;
  /** Test questions searched (the first of the held-out questions). */
  searchQuestions: number;
}

/** The default demo: under five minutes a seed on 2 cores (wasm), searches included. */
export const defaultDemoRecipe: Readonly<DemoRecipe> = Object.freeze({
  // Chosen for learnability alone (held-out step AUROC against the exact labels; the README's
  // investigation): numbers 2 to 10 with results up to 100, and mistakes that copy a wrong number
  // (which reading back reveals) rather than arithmetic slips (which a 0.1M-parameter model trained
  // for minutes cannot check: step AUROC 0.67 with slips alone).
  problems: { minSteps: 3, maxSteps: 5, minNumber: 2, maxNumber: 10, maxResult: 100 },
  // No skipped steps: a skip makes a wrong solution shorter, and the min over fewer steps then favors
  // it (measured with skips on: 64-68% of both models' best-of-64 picks were such shorter solutions).
  policy: { errorRate: 0.2, slipShare: 0, wrongOperandShare: 1, skipShare: 0 },
  parallel: true,
  seed: 0,
  seeds: 1,
  trainQuestions: 800,
  samplesPerQuestion: 4,
  rollouts: 8,
  testQuestions: 100,
  candidates: 64,
  ns: [1, 4, 16, 64],
  trainSteps: 400,
  batchSize: 32,
  learningRate: 2e-3,
  zeta: 4,
  hiddenSize: 64,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  intermediateSize: 176,
  subsets: 100,
  bootstrapResamples: 1000,
  searchNs: [4, 16, 64],
  beamWidth: 4,
  searchQuestions: 100,
});

/** A scaled-down demo for tests and smoke runs: seconds, not minutes (the numbers are not meaningful). */
export const quickDemoRecipe: Readonly<DemoRecipe> = Object.freeze({
  ...defaultDemoRecipe,
  trainQuestions: 24,
  samplesPerQuestion: 2,
  rollouts: 4,
  testQuestions: 6,
  candidates: 8,
  ns: [1, 4, 8],
  trainSteps: 6,
  batchSize: 8,
  hiddenSize: 32,
  layers: 1,
  heads: 2,
  kvHeads: 1,
  intermediateSize: 64,
  subsets: 20,
  bootstrapResamples: 100,
  searchNs: [4],
  searchQuestions: 4,
});

const positiveIntegers = [
  "seeds",
  "trainQuestions",
  "samplesPerQuestion",
  "rollouts",
  "testQuestions",
  "candidates",
  "trainSteps",
  "batchSize",
  "hiddenSize",
  "layers",
  "heads",
  "kvHeads",
  "intermediateSize",
  "subsets",
  "bootstrapResamples",
  "beamWidth",
  "searchQuestions",
] as const satisfies readonly (keyof DemoRecipe)[];

/**
 * `recipe` laid over {@link defaultDemoRecipe} (top-level fields; `problems` and `policy` are replaced
 * whole), checked.
 * @throws RangeError naming the field when a count is not a positive integer, the seed or zeta is not
 * a finite number, the learning rate is not above 0, `ns` is empty, or an n exceeds `candidates`.
 */
export function resolveDemoRecipe(recipe: Partial<DemoRecipe> = {}): DemoRecipe {
  const resolved: DemoRecipe = { ...defaultDemoRecipe };
  for (const [key, value] of Object.entries(recipe)) {
    if (value !== undefined) Object.assign(resolved, { [key]: value });
  }
  for (const key of positiveIntegers) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`recipe.${key} must be a positive integer, got ${value}`);
    }
  }
  for (const key of ["seed", "zeta"] as const) {
    if (!Number.isFinite(resolved[key]))
      throw new RangeError(`recipe.${key} must be a number, got ${resolved[key]}`);
  }
  if (!(resolved.learningRate > 0)) {
    throw new RangeError(`recipe.learningRate must be above 0, got ${resolved.learningRate}`);
  }
  if (resolved.ns.length === 0) throw new RangeError("recipe.ns must list at least one n");
  for (const [index, n] of resolved.ns.entries()) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`recipe.ns[${index}] must be a positive integer, got ${n}`);
    }
    if (n > resolved.candidates) {
      throw new RangeError(
        `recipe.ns[${index}] = ${n} is larger than recipe.candidates (${resolved.candidates})`,
      );
    }
  }
  for (const [index, n] of resolved.searchNs.entries()) {
    if (!Number.isInteger(n) || n < 1 || n % resolved.beamWidth !== 0) {
      throw new RangeError(
        `recipe.searchNs[${index}] must be a positive multiple of recipe.beamWidth (${resolved.beamWidth}), got ${n}`,
      );
    }
  }
  return resolved;
}
