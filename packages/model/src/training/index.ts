// The public API of the training area: `trainPrm`, its configuration, progress events, results and
// errors. The optimizer, schedule, clipping and validation split it uses are internal.
export type { LearningRateDecay } from "./learning-rate-schedule.js";
export type {
  DecoderPass,
  StepRecord,
  TrainingConfig,
  TrainPrmInput,
  TrainProgressEvent,
  TrainResult,
  TrainRunOptions,
  ValidationMetrics,
} from "./train-prm.js";
export { DEFAULT_TRAINING_CONFIG, resolveTrainingConfig, trainPrm } from "./train-prm.js";
export { TrainingDivergedError } from "./training-errors.js";
