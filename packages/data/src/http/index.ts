/**
 * `@pqm/data/http`: the HTTP machinery the pqm packages share, for anything that calls servers over
 * HTTP (OpenAI-compatible completion servers, remote scorers).
 *
 * - {@link JsonHttpClient}: JSON POSTs to a pool of endpoints, with a concurrency limit, round-robin
 *   or least-in-flight balancing, retries with backoff and jitter on 429, 5xx, timeouts and dropped
 *   connections (`Retry-After` honored), per-attempt timeouts, counters, and an API key read from
 *   the environment or a file that never appears in a message or log line.
 * - {@link HttpRequestError} and {@link MalformedResponseError}: what it throws.
 * - The pieces it is made of, for clients with other needs: {@link ConcurrencyLimiter},
 *   {@link backoffDelay}, {@link parseRetryAfter} and {@link resolveApiKey}.
 *
 * @module
 */

export type { ApiKeySource } from "./api-key.js";
export { resolveApiKey } from "./api-key.js";
export { ConcurrencyLimiter } from "./concurrency-limiter.js";
export { HttpRequestError, MalformedResponseError } from "./http-errors.js";
export type {
  JsonHttpClientOptions,
  JsonHttpClientStats,
  JsonHttpResponse,
  LoadBalancing,
} from "./json-http-client.js";
export { JsonHttpClient } from "./json-http-client.js";
export { backoffDelay, parseRetryAfter } from "./retry-timing.js";
