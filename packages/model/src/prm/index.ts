// The PRM area of @pqm/model: the value head and the process reward model (a `Scorer`).
export type {
  BatchScores,
  FromPretrainedOptions,
  FromScratchOptions,
  PretrainedLoadReport,
  PrmEncodingOptions,
  PrmForwardInputs,
  PrmParts,
  ScoringBatchOptions,
} from "./process-reward-model.js";
export { ProcessRewardModel, stableName } from "./process-reward-model.js";
export type { ValueHeadApplyOptions } from "./value-head.js";
export { VALUE_HEAD_DROPOUT, ValueHead } from "./value-head.js";
