// The training area of @pqm/model: AdamW, the schedule, clipping, validation AUROC and the loop.
export type { AdamWOptions, AdamWState } from "./adamw.js";
export { AdamW } from "./adamw.js";
export { clipByGlobalNorm, globalGradientNorm } from "./clip-gradients.js";
export type { LearningRateDecay, LearningRateSchedule } from "./learning-rate-schedule.js";
export { learningRateAt } from "./learning-rate-schedule.js";
export { stepAuroc } from "./step-auroc.js";
export type {
  StepRecord,
  TrainingConfig,
  TrainPrmInput,
  TrainProgressEvent,
  TrainResult,
  TrainRunOptions,
  ValidationMetrics,
} from "./train-prm.js";
export { DEFAULT_TRAINING_CONFIG, evaluatePrm, resolveTrainingConfig, trainPrm } from "./train-prm.js";
export { TrainingDivergedError } from "./training-errors.js";
export { splitByQuestion } from "./validation-split.js";
