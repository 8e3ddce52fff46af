export type { Aggregation, AggregationName } from "./aggregation.js";
export {
  aggregateStepScores,
  aggregationNames,
  getAggregation,
  lastScore,
  logSigmoid,
  maxScore,
  meanScore,
  minScore,
  productOfSigmoids,
  sigmoid,
  sumOfLogSigmoids,
} from "./aggregation.js";
export { logSumExp, softplus } from "./log-sum-exp.js";
export type { LabelKind, LossName, LossOptions } from "./loss-definitions.js";
export { DEFAULT_ZETA, isLossName, lossLabelKinds, lossNames, PQM_EPS } from "./loss-definitions.js";
export type { TensorLoss, TensorLossFactory } from "./loss-registry.js";
export { getLoss, registeredLossNames, registerLoss } from "./loss-registry.js";
export type { ResolvedLossOptions } from "./loss-validation.js";
export {
  isValidLabel,
  LossInputError,
  requireKnownLoss,
  resolveLossOptions,
  validateLabelValues,
  validateLossShapes,
  validateReferenceInputs,
} from "./loss-validation.js";
export type {
  OrderingRelation,
  OrderingViolation,
  QValueOrderingInput,
  QValueOrderingResult,
} from "./q-value-ordering.js";
export { checkQValueOrdering } from "./q-value-ordering.js";
export { referenceLoss } from "./reference-losses.js";
export type { RankingVariant } from "./tensor-losses.js";
export { bceLossTensor, mseLossTensor, ormLossTensor, pqmRankingLossTensor } from "./tensor-losses.js";
export type {
  AnswerDomain,
  HardLabel,
  JsonValue,
  LabelledTrajectory,
  Policy,
  PolicyCompletion,
  PolicySampleOptions,
  Question,
  ScoredTrajectory,
  Scorer,
  SoftLabel,
  Step,
  TokenUsage,
  Trajectory,
} from "./types.js";
export { LABEL_PAD } from "./types.js";
