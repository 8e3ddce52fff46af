import type {
  AnswerExtractor,
  Policy,
  PolicyCompletion,
  PolicySampleOptions,
  Question,
  Step,
} from "@pqm/core/reference";
import { extractAnswer } from "../answers/index.js";
import { MalformedResponseError } from "../http/http-errors.js";
import type { JsonHttpClientOptions, JsonHttpClientStats } from "../http/json-http-client.js";
import { JsonHttpClient } from "../http/json-http-client.js";
import { formatChatMessages, formatCompletionPrompt, splitContinuationSteps } from "./prompt-format.js";

/** Which OpenAI-compatible API to call: `/v1/completions` (a raw prompt) or `/v1/chat/completions`. */
export type OpenAIApi = "completions" | "chat";

/**
 * Options of `OpenAICompatiblePolicy`: the HTTP client's (endpoints, concurrency, balancing,
 * retries, timeouts, key source; see `JsonHttpClientOptions` in `@pqm/data/http`) plus the model
 * and the sampling defaults. The API key comes only from `apiKeyEnv` / `apiKeyFile`.
 */
export interface OpenAICompatiblePolicyOptions extends JsonHttpClientOptions {
  /** Base URLs including the API version, e.g. `http://127.0.0.1:8000/v1` (vLLM, SGLang, llama.cpp, Ollama). */
  endpoints: string[];
  /** The model name sent with every request. */
  model: string;
  /** Default `completions`. */
  api?: OpenAIApi;
  /** Most choices asked for in one request (`n`); larger `n` is split (default 16; 1 for servers without `n`). */
  maxChoicesPerRequest?: number;
  /** Sampling temperature, overridden by each call's options. */
  temperature?: number;
  /** Nucleus sampling `top_p`, overridden by each call's options. */
  topP?: number;
  /** `max_tokens`, overridden by each call's options. */
  maxTokens?: number;
  /** Stop strings, overridden by each call's options. */
  stop?: string[];
  /** Builds the completion prompt (default `formatCompletionPrompt`). */
  formatPrompt?: (question: Question, prefix: readonly Step[]) => string;
  /** Builds the chat messages (default `formatChatMessages`). */
  formatMessages?: (question: Question, prefix: readonly Step[]) => Array<{ role: string; content: string }>;
  /** Reads the final answer from a continuation (default: the answers module's `extractAnswer`). */
  extractor?: AnswerExtractor;
  /** The policy's `name` (default `openai:<model>`). */
  name?: string;
}

/** Counters of an `OpenAICompatiblePolicy` since it was made: its HTTP client's, plus what came back. */
export interface OpenAIClientStats extends JsonHttpClientStats {
  /** Completions received. */
  completions: number;
  /** Prompt tokens the servers reported. */
  promptTokens: number;
  /** Completion tokens the servers reported. */
  completionTokens: number;
}

/**
 * A `Policy` backed by OpenAI-compatible servers (vLLM, SGLang, llama.cpp, Ollama), speaking
 * `/v1/completions` or `/v1/chat/completions` through `@pqm/data/http`'s `JsonHttpClient`: a
 * concurrency limit over all endpoints, load balancing, retries with exponential backoff and jitter
 * on 429/5xx, timeouts and dropped connections (honoring `Retry-After`), and token accounting.
 * The API key is held by the client and removed from every message; it is only ever sent in the
 * `Authorization` header.
 */
export class OpenAICompatiblePolicy implements Policy {
  readonly name: string;
  readonly #options: OpenAICompatiblePolicyOptions;
  readonly #client: JsonHttpClient;
  // Failures found in a body the client parsed (a missing field), counted with the client's own.
  #malformed = 0;
  readonly #received = { completions: 0, promptTokens: 0, completionTokens: 0 };

  /** Throws on an empty endpoint list, a bad URL, credentials in a URL or an unreadable key source. */
  constructor(options: OpenAICompatiblePolicyOptions) {
    this.#client = new JsonHttpClient(options);
    this.#options = options;
    this.name = options.name ?? `openai:${options.model}`;
  }

  /** A copy of the counters. */
  stats(): OpenAIClientStats {
    const client = this.#client.stats();
    return { ...client, failures: client.failures + this.#malformed, ...this.#received };
  }

  /** The policy's options as JSON, without any key (what `JSON.stringify` and logs see). */
  toJSON(): Record<string, unknown> {
    const { env: _env, ...rest } = this.#options;
    return { ...rest, name: this.name };
  }

  /**
   * Continues the solution `options.n` times, splitting `n` into requests of at most
   * `maxChoicesPerRequest`. Throws `HttpRequestError` or `MalformedResponseError` (from
   * `@pqm/data/http`, naming the URL) when a request fails for good, or the signal's reason when
   * aborted.
   */
  async complete(
    question: Question,
    prefix: readonly Step[],
    options: PolicySampleOptions,
  ): Promise<PolicyCompletion[]> {
    const perRequest = this.#options.maxChoicesPerRequest ?? 16;
    const counts: number[] = [];
    for (let left = options.n; left > 0; left -= perRequest) counts.push(Math.min(perRequest, left));
    const batches = await Promise.all(counts.map((count) => this.#request(question, prefix, options, count)));
    return batches.flat();
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

    const { json, url } = await this.#client.post(path, body, options.signal);
    try {
      return this.#readChoices(url, json, api, count, question, prefix.length);
    } catch (error) {
      if (error instanceof MalformedResponseError) {
        this.#malformed++;
        this.#options.log?.(this.#client.redact(`failed: ${error.message}`));
      }
      throw error;
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
    this.#received.completions += completions.length;
    if (usage !== undefined) {
      this.#received.promptTokens += usage.promptTokens;
      this.#received.completionTokens += usage.completionTokens;
    }
    return completions;
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
