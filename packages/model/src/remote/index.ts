// The public API of the remote area: scoring steps on a process reward model served elsewhere
// (vLLM's pooling API). The response reading and the error wording are exported for callers that
// speak the same JSON; the loopback test server is internal.
export {
  PROBABILITY_FLOOR,
  poolingRowToLogOdds,
  readPoolingResponse,
  vllmErrorMessage,
} from "./pooling-response.js";
export { PoolingStepCountError, ServedModelError } from "./remote-errors.js";
export type {
  PoolingConvention,
  ServedModels,
  VllmPoolingProgress,
  VllmPoolingScorerOptions,
  VllmPoolingStats,
} from "./vllm-pooling-scorer.js";
export {
  DEFAULT_PRM_API_KEY_ENV,
  VLLM_POOLING_TARGET_RELEASE,
  VllmPoolingScorer,
} from "./vllm-pooling-scorer.js";
