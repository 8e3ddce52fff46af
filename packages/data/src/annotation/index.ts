// Math-Shepherd Monte-Carlo process annotation and the completers it drives.

export type { AnswerChecker, AnswerExtractor } from "./answer-checking.js";
export type { ApiKeySource } from "./api-key.js";
export { redactSecret, resolveApiKey } from "./api-key.js";
export type {
  ArithCompletionServer,
  ArithCompletionServerOptions,
  ArithServerRequest,
} from "./arith-completion-server.js";
export { sendJson, startArithCompletionServer } from "./arith-completion-server.js";
export type { ArithMonteCarloCorpusOptions } from "./arith-corpus.js";
export { arithMonteCarloCorpus } from "./arith-corpus.js";
export { ConcurrencyLimiter } from "./concurrency-limiter.js";
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
export { annotate, annotatedRowToTrajectory, rowKey } from "./monte-carlo-annotator.js";
export type {
  LoadBalancing,
  OpenAIApi,
  OpenAIClientStats,
  OpenAICompatiblePolicyOptions,
} from "./openai-compatible-policy.js";
export {
  CompletionRequestError,
  MalformedResponseError,
  OpenAICompatiblePolicy,
} from "./openai-compatible-policy.js";
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
export type { ResumableJsonlState } from "./resumable-jsonl.js";
export { ResumableJsonlWriter, readResumableJsonl } from "./resumable-jsonl.js";
export { backoffDelay, parseRetryAfter } from "./retry-timing.js";
