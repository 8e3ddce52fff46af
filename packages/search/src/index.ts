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
export type { ArithTreeTruth } from "./arith-tree-truth.js";
export { arithTreeTruth } from "./arith-tree-truth.js";
export type { MeanInterval } from "./mean-interval.js";
export type { OpenAIStepPolicyOptions } from "./openai-step-policy.js";
export { OpenAIStepPolicy } from "./openai-step-policy.js";
export type {
  QuestionResult,
  RunSearchOptions,
  SearchProgress,
  SearchRun,
  SearchRunSummary,
  SearchSaved,
} from "./run-search.js";
export { runSearch, SearchResultsMismatchError } from "./run-search.js";
export type { ScorerSpend, TokenCounter } from "./scorers.js";
export { CachingScorer, ExactQScorer, MeteredScorer } from "./scorers.js";
export type { SearchCandidates } from "./search-candidates.js";
export { searchCandidates, writeSearchCandidates } from "./search-candidates.js";
export type { SearchMethod, SearchOutcome, SearchSpec } from "./search-methods.js";
export { searchMethods, searchQuestion, validateSearchSpec } from "./search-methods.js";
export type { SearchCompute, SearchNode, SearchSettings } from "./search-tree.js";
export type {
  Rollout,
  RolloutBatch,
  StepBatch,
  StepPolicy,
  StepPolicyCallOptions,
  StepProposal,
  StepStop,
} from "./step-policy.js";
export type { TreeView, TreeViewNode } from "./tree-view.js";
export { searchTreeView } from "./tree-view.js";
