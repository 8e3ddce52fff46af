import type { Policy, PolicyCompletion, PolicySampleOptions, Question, Step } from "@pqm/core/reference";
import { extractAnswer } from "../answers/index.js";
import type { AnswerExtractor } from "./answer-checking.js";
import type { ApiKeySource } from "./api-key.js";
import { redactSecret, resolveApiKey } from "./api-key.js";
import { ConcurrencyLimiter } from "./concurrency-limiter.js";
import { formatChatMessages, formatCompletionPrompt, splitContinuationSteps } from "./prompt-format.js";
import { backoffDelay, parseRetryAfter } from "./retry-timing.js";

/** Which OpenAI-compatible API to call: `/v1/completions` (a raw prompt) or `/v1/chat/completions`. */
export type OpenAIApi = "completions" | "chat";

/** How requests are spread over several endpoints. */
export type LoadBalancing = "round-robin" | "least-in-flight";

/** Options of `OpenAICompatiblePolicy`. The API key comes only from `apiKeyEnv` / `apiKeyFile`. */
export interface OpenAICompatiblePolicyOptions extends ApiKeySource {
  /** Base URLs including the API version, e.g. `http://127.0.0.1:8000/v1` (vLLM, SGLang, llama.cpp, Ollama). */
  endpoints: string[];
  /** The model name sent with every request. */
  model: string;
  /** Default `completions`. */
  api?: OpenAIApi;
  /** Most requests in flight over all endpoints (default 16). */
  concurrency?: number;
  /** Default `least-in-flight`. */
  loadBalancing?: LoadBalancing;
  /** Retries after a 429, a 5xx, a timeout or a dropped connection (default 4). */
  retries?: number;
  /** First backoff in ms, doubled per retry, with jitter (default 500). */
  backoffMs?: number;
  /** Longest backoff in ms (default 20,000). */
  maxBackoffMs?: number;
  /** Longest `Retry-After` honoured in ms (default 60,000); longer ones are cut to this. */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout in ms, covering the whole response (default 120,000). */
  timeoutMs?: number;
  /** Most choices asked for in one request (`n`); larger `n` is split (default 16; 1 for servers without `n`). */
  maxChoicesPerRequest?: number;
  /** Sampling defaults, overridden by each call's options. */
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  /** Builds the completion prompt (default `formatCompletionPrompt`). */
  formatPrompt?: (question: Question, prefix: readonly Step[]) => string;
  /** Builds the chat messages (default `formatChatMessages`). */
  formatMessages?: (question: Question, prefix: readonly Step[]) => Array<{ role: string; content: string }>;
  /** Reads the final answer from a continuation (default: the answers module's `extractAnswer`). */
  extractor?: AnswerExtractor;
  /** Receives one line per retry or failure (the key is never in it). Silent by default. */
  log?: (line: string) => void;
  /** The policy's `name` (default `openai:<model>`). */
  name?: string;
}

/** A request failed for good: after its retries, or at once for a non-retryable status. */
export class CompletionRequestError extends Error {
  /** The URL called (no credentials). */
  readonly endpoint: string;
  /** The last HTTP status, when there was a response. */
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(
    endpoint: string,
    message: string,
    status: number | undefined,
    attempts: number,
    options?: { cause?: unknown },
  ) {
    super(`${endpoint}: ${message}`, options);
    this.name = "CompletionRequestError";
    this.endpoint = endpoint;
    this.status = status;
    this.attempts = attempts;
  }
}

/** The server answered 200 with a body that is not the API's shape; names the endpoint and field. */
export class MalformedResponseError extends Error {
  readonly endpoint: string;
  /** The offending field as a path (`choices.0.text`), or `(body)` when the body is not JSON. */
  readonly field: string;

  constructor(endpoint: string, field: string, reason: string) {
    super(`${endpoint}: malformed response: field '${field}': ${reason}`);
    this.name = "MalformedResponseError";
    this.endpoint = endpoint;
    this.field = field;
  }
}

/** Counters of an `OpenAICompatiblePolicy` since it was made. */
export interface OpenAIClientStats {
  requests: number;
  retries: number;
  failures: number;
  completions: number;
  promptTokens: number;
  completionTokens: number;
  /** Requests sent to each endpoint (by URL). */
  perEndpoint: Record<string, number>;
}

interface Endpoint {
  url: string;
  inFlight: number;
  requests: number;
}

class RetryableError extends Error {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status?: number, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A `Policy` backed by OpenAI-compatible servers (vLLM, SGLang, llama.cpp, Ollama): a concurrency
 * limit over all endpoints, load balancing, retries with exponential backoff and jitter on 429/5xx,
 * timeouts and dropped connections (honouring `Retry-After`), and token accounting.
 *
 * It uses Node's built-in `fetch` (undici): keep-alive connection pooling, `AbortSignal` timeouts
 * that cover the body, and no dependency; `node:http` would need all of that by hand.
 * The API key is held in a private field and removed from every message; it is only ever sent in
 * the `Authorization` header.
 */
export class OpenAICompatiblePolicy implements Policy {
  readonly name: string;
  readonly #options: OpenAICompatiblePolicyOptions;
  readonly #apiKey: string | undefined;
  readonly #endpoints: Endpoint[];
  readonly #limiter: ConcurrencyLimiter;
  #turn = 0;
  readonly #stats: OpenAIClientStats = {
    requests: 0,
    retries: 0,
    failures: 0,
    completions: 0,
    promptTokens: 0,
    completionTokens: 0,
    perEndpoint: {},
  };

  /** Throws on an empty endpoint list, a bad URL or an unreadable key source. */
  constructor(options: OpenAICompatiblePolicyOptions) {
    if (options.endpoints.length === 0) throw new RangeError("OpenAICompatiblePolicy: no endpoints");
    this.#endpoints = options.endpoints.map((url) => {
      const parsed = new URL(url);
      if (parsed.username !== "" || parsed.password !== "") {
        throw new Error("OpenAICompatiblePolicy: put credentials in apiKeyEnv or apiKeyFile, not in the URL");
      }
      return { url: url.replace(/\/+$/, ""), inFlight: 0, requests: 0 };
    });
    this.#options = options;
    this.#apiKey = resolveApiKey(options);
    this.#limiter = new ConcurrencyLimiter(options.concurrency ?? 16);
    this.name = options.name ?? `openai:${options.model}`;
  }

  /** A copy of the counters. */
  stats(): OpenAIClientStats {
    return { ...this.#stats, perEndpoint: { ...this.#stats.perEndpoint } };
  }

  /** The policy's options as JSON, without any key (what `JSON.stringify` and logs see). */
  toJSON(): Record<string, unknown> {
    const { env: _env, ...rest } = this.#options;
    return { ...rest, name: this.name };
  }

  /**
   * Continues the solution `options.n` times, splitting `n` into requests of at most
   * `maxChoicesPerRequest`. Throws CompletionRequestError or MalformedResponseError (naming the
   * endpoint) when a request fails for good, or the signal's reason when aborted.
   */
  async complete(
    question: Question,
    prefix: readonly Step[],
    options: PolicySampleOptions,
  ): Promise<PolicyCompletion[]> {
    const perRequest = this.#options.maxChoicesPerRequest ?? 16;
    const counts: number[] = [];
    for (let left = options.n; left > 0; left -= perRequest) counts.push(Math.min(perRequest, left));
    const batches = await Promise.all(
      counts.map((count) =>
        this.#limiter.run(() => this.#request(question, prefix, options, count), options.signal),
      ),
    );
    return batches.flat();
  }

  #pickEndpoint(): Endpoint {
    const count = this.#endpoints.length;
    const start = this.#turn++ % count;
    if ((this.#options.loadBalancing ?? "least-in-flight") === "round-robin")
      return this.#endpoints[start] as Endpoint;
    let best = this.#endpoints[start] as Endpoint;
    for (let i = 1; i < count; i++) {
      const candidate = this.#endpoints[(start + i) % count] as Endpoint;
      if (candidate.inFlight < best.inFlight) best = candidate;
    }
    return best;
  }

  async #request(
    question: Question,
    prefix: readonly Step[],
    options: PolicySampleOptions,
    count: number,
  ): Promise<PolicyCompletion[]> {
    const api = this.#options.api ?? "completions";
    const path = api === "chat" ? "/chat/completions" : "/completions";
    const body: Record<string, unknown> = { model: this.#options.model, n: count };
    if (api === "chat")
      body.messages = (this.#options.formatMessages ?? formatChatMessages)(question, prefix);
    else body.prompt = (this.#options.formatPrompt ?? formatCompletionPrompt)(question, prefix);
    const temperature = options.temperature ?? this.#options.temperature;
    const topP = options.topP ?? this.#options.topP;
    const maxTokens = options.maxTokens ?? this.#options.maxTokens;
    const stop = options.stop ?? this.#options.stop;
    if (temperature !== undefined) body.temperature = temperature;
    if (topP !== undefined) body.top_p = topP;
    if (maxTokens !== undefined) body.max_tokens = maxTokens;
    if (stop !== undefined && stop.length > 0) body.stop = stop;
    if (options.seed !== undefined) body.seed = options.seed;
    const payload = JSON.stringify(body);

    const retries = this.#options.retries ?? 4;
    let lastUrl = "";
    for (let attempt = 0; ; attempt++) {
      const endpoint = this.#pickEndpoint();
      const url = `${endpoint.url}${path}`;
      lastUrl = url;
      try {
        const json = await this.#send(endpoint, url, payload, options.signal);
        return this.#readChoices(url, json, api, count, question, prefix.length);
      } catch (error) {
        if (!(error instanceof RetryableError)) {
          if (!(error instanceof MalformedResponseError) && !(error instanceof CompletionRequestError))
            throw error;
          this.#stats.failures++;
          this.#log(`failed: ${error.message}`);
          throw error;
        }
        if (attempt >= retries) {
          this.#stats.failures++;
          const failure = new CompletionRequestError(
            lastUrl,
            `${this.#redact(error.message)} (gave up after ${attempt + 1} attempts)`,
            error.status,
            attempt + 1,
          );
          this.#log(`failed: ${failure.message}`);
          throw failure;
        }
        const backoff = backoffDelay(
          attempt,
          this.#options.backoffMs ?? 500,
          this.#options.maxBackoffMs ?? 20_000,
        );
        const wait =
          error.retryAfterMs === undefined
            ? backoff
            : Math.min(error.retryAfterMs, this.#options.maxRetryAfterMs ?? 60_000);
        this.#stats.retries++;
        this.#log(
          `retry ${attempt + 1}/${retries} in ${Math.round(wait)} ms: ${url}: ${this.#redact(error.message)}`,
        );
        await abortableSleep(wait, options.signal);
      }
    }
  }

  async #send(
    endpoint: Endpoint,
    url: string,
    payload: string,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const timeoutMs = this.#options.timeoutMs ?? 120_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    endpoint.inFlight++;
    endpoint.requests++;
    this.#stats.requests++;
    this.#stats.perEndpoint[endpoint.url] = (this.#stats.perEndpoint[endpoint.url] ?? 0) + 1;
    try {
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, { method: "POST", headers, body: payload, signal: combined });
        text = await response.text();
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (timeout.aborted) throw new RetryableError(`timed out after ${timeoutMs} ms`);
        throw new RetryableError(`connection failed (${networkReason(error)})`, undefined, undefined, {
          cause: error,
        });
      }
      if (response.status === 429 || response.status >= 500) {
        throw new RetryableError(
          `HTTP ${response.status}${snippet(text)}`,
          response.status,
          parseRetryAfter(response.headers.get("retry-after")),
        );
      }
      if (!response.ok) {
        throw new CompletionRequestError(
          url,
          `HTTP ${response.status}${this.#redact(snippet(text))}`,
          response.status,
          1,
        );
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new MalformedResponseError(url, "(body)", `not JSON: ${this.#redact(text.slice(0, 80))}`);
      }
    } finally {
      endpoint.inFlight--;
    }
  }

  #readChoices(
    url: string,
    json: unknown,
    api: OpenAIApi,
    count: number,
    question: Question,
    offset: number,
  ): PolicyCompletion[] {
    if (typeof json !== "object" || json === null)
      throw new MalformedResponseError(url, "(body)", "expected a JSON object");
    const record = json as Record<string, unknown>;
    const choices = record.choices;
    if (!Array.isArray(choices)) throw new MalformedResponseError(url, "choices", "expected an array");
    if (choices.length !== count) {
      throw new MalformedResponseError(
        url,
        "choices",
        `expected ${count} choices (n), got ${choices.length}; set maxChoicesPerRequest: 1 for servers without n`,
      );
    }
    const usage = readUsage(url, record.usage);
    const extractor = this.#options.extractor ?? extractAnswer;
    const completions = choices.map((choice: unknown, i): PolicyCompletion => {
      if (typeof choice !== "object" || choice === null)
        throw new MalformedResponseError(url, `choices.${i}`, "expected an object");
      const c = choice as Record<string, unknown>;
      let raw: unknown;
      let field: string;
      if (api === "chat") {
        const message = c.message as Record<string, unknown> | undefined;
        if (typeof message !== "object" || message === null)
          throw new MalformedResponseError(url, `choices.${i}.message`, "expected an object");
        raw = message.content;
        field = `choices.${i}.message.content`;
      } else {
        raw = c.text;
        field = `choices.${i}.text`;
      }
      if (typeof raw !== "string")
        throw new MalformedResponseError(
          url,
          field,
          `expected a string, got ${raw === null ? "null" : typeof raw}`,
        );
      const header = `Step ${offset + 1}:`;
      // The completion prompt ends with the next step's header, so the model's text starts inside it.
      const text = /^\s*Step \d+:/.test(raw) ? raw.trim() : `${header} ${raw.trim()}`;
      const truncated = c.finish_reason === "length";
      return {
        text,
        steps: splitContinuationSteps(text),
        finalAnswer: truncated ? null : extractor(text, question.domain),
        ...(usage === undefined ? {} : { usage: shareOf(usage, i, count) }),
      };
    });
    this.#stats.completions += completions.length;
    if (usage !== undefined) {
      this.#stats.promptTokens += usage.promptTokens;
      this.#stats.completionTokens += usage.completionTokens;
    }
    return completions;
  }

  #redact(text: string): string {
    return redactSecret(text, this.#apiKey);
  }

  #log(line: string): void {
    this.#options.log?.(this.#redact(line));
  }
}

function readUsage(
  url: string,
  usage: unknown,
): { promptTokens: number; completionTokens: number } | undefined {
  if (usage === undefined || usage === null) return undefined;
  if (typeof usage !== "object") throw new MalformedResponseError(url, "usage", "expected an object");
  const record = usage as Record<string, unknown>;
  for (const field of ["prompt_tokens", "completion_tokens"]) {
    const value = record[field];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value) || value < 0)) {
      throw new MalformedResponseError(url, `usage.${field}`, "expected a non-negative number");
    }
  }
  return {
    promptTokens: (record.prompt_tokens as number) ?? 0,
    completionTokens: (record.completion_tokens as number) ?? 0,
  };
}

// A request's usage is shared evenly among its choices (servers report one total), so sums stay exact.
function shareOf(usage: { promptTokens: number; completionTokens: number }, index: number, count: number) {
  const split = (total: number) => Math.floor(total / count) + (index < total % count ? 1 : 0);
  return { promptTokens: split(usage.promptTokens), completionTokens: split(usage.completionTokens) };
}

function snippet(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  return trimmed === "" ? "" : `: ${trimmed.slice(0, 200)}`;
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
