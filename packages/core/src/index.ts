export { LABEL_PAD } from "./types.js";
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
export type { Aggregation, AggregationName } from "./aggregation.js";
