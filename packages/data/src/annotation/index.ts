// Math-Shepherd Monte-Carlo process annotation and the completers it drives.

export {
  AnnotationRunMismatchError,
  type AnnotationRunSettings,
  annotationRunFile,
} from "./annotation-run.js";
export type {
  ArithCompletionServer,
  ArithCompletionServerOptions,
  ArithServerRequest,
} from "./arith-completion-server.js";
export { startArithCompletionServer } from "./arith-completion-server.js";
export type { ArithMonteCarloCorpusOptions } from "./arith-corpus.js";
export { arithMonteCarloCorpus } from "./arith-corpus.js";
export type {
  AnnotatedRow,
  AnnotateOptions,
  AnnotationFailure,
  AnnotationJudge,
  AnnotationJudgeInput,
  AnnotationJudgeVerdict,
  AnnotationProgress,
  AnnotationResult,
  AnnotationSearch,
  AnnotationSummary,
} from "./monte-carlo-annotator.js";
export { annotate, annotatedRowToTrajectory } from "./monte-carlo-annotator.js";
export type {
  OpenAIApi,
  OpenAIClientStats,
  OpenAICompatiblePolicyOptions,
} from "./openai-compatible-policy.js";
export { OpenAICompatiblePolicy } from "./openai-compatible-policy.js";
export type { ParsedPrompt } from "./prompt-format.js";
export {
  CHAT_INSTRUCTION,
  formatChatMessages,
  formatCompletionPrompt,
  parseChatPrompt,
  parseCompletionPrompt,
  splitContinuationSteps,
} from "./prompt-format.js";
export { readAnnotations } from "./read-annotations.js";
