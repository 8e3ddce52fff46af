// The public API of @pqm/pipeline.
export type { DemoOptions, DemoResults, DemoRun, MachineInfo } from "./demo.js";
export { demoTrainingStage, runDemo } from "./demo.js";
export type { DemoModelResult, DemoSeedResult, StageTime } from "./evaluate.js";
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
export { DEFAULT_WORKERS, workerEntryAvailable } from "./jobs.js";
export type { ModelReportLink } from "./model-reports.js";
export type {
  AnnotationEvent,
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
export { demoVerdict, overSeeds, summariseDemo } from "./summary.js";
