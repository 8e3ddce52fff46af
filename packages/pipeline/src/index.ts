/**
 * `@pqm/pipeline`: the pqm research pipeline as library functions. {@link runDemo} (PQM against BCE on
 * the built-in arith environment) and {@link runExperiment} (the paper's ablations in miniature) take a
 * {@link DemoRecipe}, report progress through `onProgress` ({@link PipelineEvent}), stop on an
 * `AbortSignal`, and return plain data; with `out` they also write their results folder and reports.
 *
 * @packageDocumentation
 */

export type { DemoOptions, DemoResults, DemoRun, MachineInfo } from "./demo.js";
export { runDemo } from "./demo.js";
export type {
  DemoModelResult,
  DemoSearchPoint,
  DemoSeedResult,
  DemoSeedSearch,
  StageTime,
} from "./demo-evaluation.js";
export { demoVerdict, overSeeds, summarizeDemo } from "./demo-summary.js";
export type {
  ExperimentName,
  ExperimentOptions,
  ExperimentResults,
  ExperimentRow,
  ExperimentRun,
} from "./experiment.js";
export {
  experimentLosses,
  experimentNames,
  experimentRolloutCounts,
  experimentZetas,
  runExperiment,
} from "./experiment.js";
export type { ModelReportLink } from "./model-reports.js";
export type {
  AnnotationEvent,
  ModelResumedEvent,
  ModelTrainedEvent,
  PipelineEvent,
  RunOptions,
  StageEndEvent,
  StageStartEvent,
  TrainingStepEvent,
  WorkerEvent,
} from "./progress.js";
export type { DemoRecipe } from "./recipe.js";
export { defaultDemoRecipe, quickDemoRecipe, resolveDemoRecipe } from "./recipe.js";
export type { PipelineSaved } from "./run-state.js";
export { RUN_FILE, RunMismatchError } from "./run-state.js";
export { workerEntryAvailable } from "./train-jobs.js";
