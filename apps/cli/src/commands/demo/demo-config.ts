/**
 * The demo's recipe as flat named constants (nanoGPT style): sizes chosen so that the whole run,
 * two models included, fits in about three minutes on two CPU cores with the wasm backend.
 */
import type { ArithPolicyOptions, ArithProblemOptions } from "@pqm/data";
import { CliError } from "../../cli-error.js";

export interface DemoConfig {
  /** The arith environment's knobs: short problems with small numbers, so a tiny model can learn to check steps. */
  problems: ArithProblemOptions;
  policy: ArithPolicyOptions;
  /** Train the two models at once, one worker thread (and core) each. */
  parallel: boolean;
  /** Seed of the first run; run k uses `seed + k`. */
  seed: number;
  /** Repeats of the whole pipeline with consecutive seeds. */
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
  /** Best-of-n sizes reported. */
  ns: number[];
  /** Optimiser steps of each model (the same budget for both). */
  trainSteps: number;
  /** Trajectories per batch. */
  batchSize: number;
  /** Peak learning rate (AdamW, 10% warm-up, linear decay). */
  learningRate: number;
  /** The PQM margin. */
  zeta: number;
  /** The backbone: a small Llama trained from scratch. */
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediateSize: number;
  /** Random subsets per question and n for best-of-n, and bootstrap resamples. */
  subsets: number;
  bootstrapResamples: number;
}

/** The default demo: about three minutes on 2 cores. */
export const defaultDemoConfig: Readonly<DemoConfig> = Object.freeze({
  problems: { minSteps: 3, maxSteps: 5, minNumber: 2, maxNumber: 20, maxResult: 200 },
  // No skipped steps: a skip makes a wrong solution shorter, and the min over fewer steps then favours
  // it (measured with skips on: 64-68% of both models' best-of-64 picks were such shorter solutions).
  policy: { errorRate: 0.2, slipShare: 0.3, wrongOperandShare: 0.7, skipShare: 0 },
  parallel: true,
  seed: 0,
  seeds: 1,
  trainQuestions: 800,
  samplesPerQuestion: 4,
  rollouts: 8,
  testQuestions: 100,
  candidates: 64,
  ns: [1, 4, 16, 64],
  trainSteps: 200,
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
});

/** A scaled-down demo for tests and smoke runs: seconds, not minutes (numbers are not meaningful). */
export const quickDemoConfig: Readonly<DemoConfig> = Object.freeze({
  ...defaultDemoConfig,
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
});

/** The command-line flags `pqm demo` and `pqm experiment` share; absent ones keep the recipe's value. */
export interface DemoConfigFlags {
  quick?: boolean;
  seeds?: number;
  seed?: number;
  trainSteps?: number;
  trainQuestions?: number;
  testQuestions?: number;
  candidates?: number;
  n?: number[];
  zeta?: number;
}

/**
 * The recipe (default, or quick with `--quick`) with the flags laid over it.
 * @throws CliError (usage) when the largest n exceeds the candidates per question.
 */
export function demoConfigFromFlags(flags: DemoConfigFlags): DemoConfig {
  const overrides: Partial<DemoConfig> = {
    seeds: flags.seeds,
    seed: flags.seed,
    trainSteps: flags.trainSteps,
    trainQuestions: flags.trainQuestions,
    testQuestions: flags.testQuestions,
    candidates: flags.candidates,
    ns: flags.n,
    zeta: flags.zeta,
  };
  const config: DemoConfig = { ...(flags.quick ? quickDemoConfig : defaultDemoConfig) };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) Object.assign(config, { [key]: value });
  }
  const largest = Math.max(...config.ns);
  if (largest > config.candidates) {
    throw new CliError(`--n ${largest} is larger than --candidates ${config.candidates}`, 2);
  }
  return config;
}
