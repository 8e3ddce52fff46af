// The public API of @pqm/search.

export type {
  ArithEvaluation,
  ArithEvaluationOptions,
  ArithEvaluationPoint,
  ArithEvaluationRun,
  EvaluationScorer,
} from "./arith-evaluation.js";
export {
  accuracyDifference,
  arithSearchRecipe,
  evaluateArithSearch,
  oracleScorer,
  searchLabel,
} from "./arith-evaluation.js";
export type { ArithStepPolicyOptions } from "./arith-step-policy.js";
export { ArithStepPolicy } from "./arith-step-policy.js";
export type { ArithTreeTruth } from "./arith-truth.js";
export { arithTreeTruth } from "./arith-truth.js";
export type { SearchCandidates } from "./candidates.js";
export { searchCandidates, writeSearchCandidates } from "./candidates.js";
export type { JsonHttpClientOptions, JsonHttpClientStats } from "./http-json-client.js";
export { JsonHttpClient } from "./http-json-client.js";
export type { SearchMethod, SearchOutcome, SearchSpec } from "./methods.js";
export { answerKey, searchMethods, searchQuestion, validateSearchSpec } from "./methods.js";
export type { OpenAIStepPolicyOptions } from "./openai-step-policy.js";
export { markedAnswer, OpenAIStepPolicy } from "./openai-step-policy.js";
export type {
  QuestionResult,
  RunSearchOptions,
  SearchProgress,
  SearchRun,
  SearchRunSummary,
} from "./run-search.js";
export { questionKey, runSearch, searchFingerprint, sumCompute, summarise } from "./run-search.js";
export type { ScorerSpend, TokenCounter } from "./scoring.js";
export {
  CachingScorer,
  countTrajectoryWords,
  ExactQScorer,
  MeteredScorer,
  probabilityToLogit,
} from "./scoring.js";
export type { SearchCompute, SearchNode, SearchSettings } from "./search-tree.js";
export { SearchContext } from "./search-tree.js";
export type { MeanInterval } from "./stats.js";
export { meanWithInterval } from "./stats.js";
export type { TreeView, TreeViewNode } from "./tree-view.js";
export { searchTreeView } from "./tree-view.js";
export type {
  Rollout,
  RolloutBatch,
  StepBatch,
  StepPolicy,
  StepPolicyCallOptions,
  StepProposal,
  StepStop,
} from "./types.js";
