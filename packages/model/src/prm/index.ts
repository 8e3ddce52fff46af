// The public API of the PRM area: the process reward model (a @pqm/core `Scorer`) and its value head.
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
export { ProcessRewardModel } from "./process-reward-model.js";
export type { ValueHeadApplyOptions } from "./value-head.js";
export { ValueHead } from "./value-head.js";
