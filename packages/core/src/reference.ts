/**
 * `@pqm/core/reference`: everything of `@pqm/core` that needs no TF.js: the types, the plain-number
 * reference losses (which throw {@link LossInputError} on bad input), step-score aggregation, the
 * Q-value ordering checker, AUROC and midranks, and the seeded random generators (mulberry32,
 * splitmix32). This entry never imports `@tensorflow/tfjs-core`.
 *
 * @packageDocumentation
 */

export type { Aggregation, AggregationName } from "./aggregation.js";
export { aggregateStepScores, aggregationNames, getAggregation, sigmoid } from "./aggregation.js";
export type { LabelKind, LossName, LossOptions } from "./losses/loss-definitions.js";
export { DEFAULT_ZETA, isLossName, lossLabelKinds, lossNames, PQM_EPS } from "./losses/loss-definitions.js";
export type { ResolvedLossOptions } from "./losses/loss-validation.js";
export { LossInputError } from "./losses/loss-validation.js";
export { referenceLoss } from "./losses/reference-losses.js";
export type {
  OrderingRelation,
  OrderingViolation,
  QValueOrderingInput,
  QValueOrderingResult,
} from "./q-value-ordering.js";
export { checkQValueOrdering } from "./q-value-ordering.js";
export type { RandomSource } from "./random/seeded-random.js";
export { deriveSeed, mulberry32, SeededRandom } from "./random/seeded-random.js";
export { auroc, midranks } from "./ranking-metrics.js";
export type {
  AnswerChecker,
  AnswerDomain,
  AnswerEquivalence,
  AnswerExtractor,
  HardLabel,
  JsonValue,
  LabeledTrajectory,
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
