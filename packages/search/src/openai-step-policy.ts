import type { AnswerDomain, AnswerExtractor, Question, Step } from "@pqm/core/reference";
import { extractAnswer, formatCompletionPrompt, splitContinuationSteps } from "@pqm/data";
import type { JsonHttpClientOptions, JsonHttpClientStats } from "@pqm/data/http";
import { JsonHttpClient, MalformedResponseError } from "@pqm/data/http";
import type {
  Rollout,
  RolloutBatch,
  StepBatch,
  StepPolicy,
  StepPolicyCallOptions,
  StepProposal,
  StepStop,
} from "./step-policy.js";

/**
 * Options of {@link OpenAIStepPolicy}: those of `@pqm/data/http`'s `JsonHttpClient` (endpoints,
 * concurrency, balancing, retries, timeouts, key source) plus the model, prompt and sampling.
 */
export interface OpenAIStepPolicyOptions extends JsonHttpClientOptions {
  /** The model name sent with every request. */
  model: string;
  /**
   * The prompt for a prefix. Default: @pqm/data's `formatCompletionPrompt` (the question, the prefix
   * as `Step k: ...` lines, then the next step's header), whose steps are one line each.
   */
  formatPrompt?: (question: Question, prefix: readonly Step[]) => string;
  /**
   * Where a step ends: the stop string of one-step requests. Default `"\n"` with the default
   * prompt; a model that writes steps as paragraphs wants `"\n\n"` and a matching `formatPrompt`.
   */
  delimiter?: string;
  /**
   * Ask the server to keep the stop string in the output (vLLM's `include_stop_str_in_output`):
   * then a step that ended at the delimiter is told apart from one that ended the solution by its
   * text alone. Default false (OpenAI, SGLang and llama.cpp do not know the field).
   */
  includeStopStrInOutput?: boolean;
  /** Most samples asked for in one request (`n`); larger `k` is split (default 16; 1 for servers without `n`). */
  maxChoicesPerRequest?: number;
  /** Sampling temperature (default 0.7; each call's `temperature` wins). */
  temperature?: number;
  topP?: number;
  /** `max_tokens` of a one-step request (default 256). */
  maxStepTokens?: number;
  /** `max_tokens` of a request for a whole solution (default 1024). */
  maxTokens?: number;
  /**
   * Reads a step's final answer. Default: @pqm/data's `extractAnswer` in the question's domain, but
   * only for a step with an answer marker ("The answer is", "Final Answer:", `####`, `\boxed{}`),
   * since a GSM step's last number is not an answer.
   */
  extractor?: AnswerExtractor;
  /** A step that states a final answer ends the solution (default true). */
  answerEndsSolution?: boolean;
  /** The policy's `name` (default `openai:<model>`). */
  name?: string;
}

interface Choice {
  text: string;
  finishReason: unknown;
  stopReason: unknown;
}

/**
 * A step policy on OpenAI-compatible `/v1/completions` servers (vLLM, SGLang, llama.cpp's server,
 * Ollama): `extend` asks for `k` samples that stop at the step delimiter, `complete` for `k`
 * whole solutions. Requests go through `@pqm/data/http`'s `JsonHttpClient`: many endpoints, a limit on requests
 * in flight, retries with backoff on 429/5xx/timeouts, the API key from the environment or a file
 * and never in a message.
 *
 * Servers drop the stop string from the text, and report `finish_reason: "stop"` both when it
 * matched and when the model ended its answer. The policy tells the two apart, in this order: the
 * delimiter still in the text (a server that ignored `stop`, or `include_stop_str_in_output`: the
 * text is cut there); vLLM's `stop_reason` / SGLang's `matched_stop` naming the delimiter (or, null,
 * the end of sequence); with `includeStopStrInOutput`, a text without the delimiter ended the
 * solution; otherwise a step that states a final answer ended it. A step that ended at the
 * delimiter gets the delimiter back in its `raw` text.
 */
export class OpenAIStepPolicy implements StepPolicy {
  readonly name: string;
  readonly client: JsonHttpClient;
  readonly #options: OpenAIStepPolicyOptions;
  readonly #delimiter: string;
  readonly #stats = { promptTokens: 0, completionTokens: 0, samples: 0 };

  /** Throws on an empty endpoint list, a bad URL, credentials in a URL or an unreadable key source. */
  constructor(options: OpenAIStepPolicyOptions) {
    this.client = new JsonHttpClient(options);
    this.#options = options;
    this.#delimiter = options.delimiter ?? "\n";
    if (this.#delimiter === "") throw new RangeError("OpenAIStepPolicy: the delimiter must not be empty");
    this.name = options.name ?? `openai:${options.model}`;
  }

  /** The client's request counters plus the tokens and samples received. */
  stats(): JsonHttpClientStats & { promptTokens: number; completionTokens: number; samples: number } {
    return { ...this.client.stats(), ...this.#stats };
  }

  /** The options as JSON, without any key or environment. */
  toJSON(): Record<string, unknown> {
    const { env: _env, formatPrompt: _f, extractor: _e, log: _l, ...rest } = this.#options;
    return { ...rest, name: this.name };
  }

  async extend(
    question: Question,
    prefix: readonly Step[],
    options: StepPolicyCallOptions,
  ): Promise<StepBatch> {
    const body = this.#body(question, prefix, options, this.#options.maxStepTokens ?? 256);
    body.stop = [this.#delimiter];
    if (this.#options.includeStopStrInOutput) body.include_stop_str_in_output = true;
    const requests = await this.#sample(body, options);
    const proposals: StepProposal[] = [];
    let promptTokens = 0;
    let completionTokens = 0;
    for (const request of requests) {
      promptTokens += request.promptTokens;
      completionTokens += request.completionTokens;
      request.choices.forEach((choice, i) => {
        proposals.push(
          this.#toStep(question, choice, share(request.completionTokens, i, request.choices.length)),
        );
      });
    }
    return { proposals, calls: requests.length, promptTokens, completionTokens };
  }

  async complete(
    question: Question,
    prefix: readonly Step[],
    options: StepPolicyCallOptions,
  ): Promise<RolloutBatch> {
    const body = this.#body(question, prefix, options, this.#options.maxTokens ?? 1024);
    const requests = await this.#sample(body, options);
    const rollouts: Rollout[] = [];
    let promptTokens = 0;
    let completionTokens = 0;
    for (const request of requests) {
      promptTokens += request.promptTokens;
      completionTokens += request.completionTokens;
      request.choices.forEach((choice, i) => {
        rollouts.push(
          this.#toRollout(question, choice, share(request.completionTokens, i, request.choices.length)),
        );
      });
    }
    return { rollouts, calls: requests.length, promptTokens, completionTokens };
  }

  #body(
    question: Question,
    prefix: readonly Step[],
    options: StepPolicyCallOptions,
    maxTokens: number,
  ): Record<string, unknown> {
    const prompt = (this.#options.formatPrompt ?? formatCompletionPrompt)(question, prefix);
    const body: Record<string, unknown> = { model: this.#options.model, prompt, max_tokens: maxTokens };
    const temperature = options.temperature ?? this.#options.temperature ?? 0.7;
    body.temperature = temperature;
    if (this.#options.topP !== undefined) body.top_p = this.#options.topP;
    if (options.seed !== undefined) body.seed = options.seed;
    return body;
  }

  async #sample(
    body: Record<string, unknown>,
    options: StepPolicyCallOptions,
  ): Promise<Array<{ choices: Choice[]; promptTokens: number; completionTokens: number }>> {
    if (!Number.isInteger(options.k) || options.k < 1) {
      throw new RangeError(`OpenAIStepPolicy: k must be a positive integer, got ${options.k}`);
    }
    const perRequest = this.#options.maxChoicesPerRequest ?? 16;
    const counts: number[] = [];
    for (let left = options.k; left > 0; left -= perRequest) counts.push(Math.min(perRequest, left));
    return Promise.all(
      counts.map(async (n, part) => {
        // Each part of a split request gets its own seed, so the parts do not repeat each other.
        const seeded =
          body.seed === undefined ? body : { ...body, seed: (body.seed as number) + part * 7919 };
        const { json, url } = await this.client.post("/completions", { ...seeded, n }, options.signal);
        const read = readCompletion(url, json, n);
        this.#stats.promptTokens += read.promptTokens;
        this.#stats.completionTokens += read.completionTokens;
        this.#stats.samples += read.choices.length;
        return read;
      }),
    );
  }

  #toStep(question: Question, choice: Choice, tokens: number): StepProposal {
    const delimiter = this.#delimiter;
    let body = choice.text;
    let stop: StepStop | undefined;
    const at = body.indexOf(delimiter);
    if (at >= 0) {
      // The server kept the delimiter (include_stop_str_in_output) or ignored `stop`: cut there.
      body = body.slice(0, at);
      stop = "delimiter";
    } else if (choice.finishReason === "length") {
      stop = "length";
    } else if (typeof choice.stopReason === "string") {
      stop = choice.stopReason === delimiter ? "delimiter" : "end";
    } else if (choice.stopReason === null || this.#options.includeStopStrInOutput) {
      // vLLM's null stop_reason is the end of sequence; with the delimiter kept, its absence is too.
      stop = "end";
    }
    const text = stripHeader(body).trim();
    const finalAnswer = (this.#options.extractor ?? markedAnswer)(text, question.domain);
    // No signal from the server: a step that states the answer ended the solution.
    stop ??= finalAnswer !== null ? "end" : "delimiter";
    const endsByAnswer = finalAnswer !== null && (this.#options.answerEndsSolution ?? true);
    const terminal = stop !== "delimiter" || endsByAnswer || text === "";
    return {
      text,
      raw: stop === "delimiter" ? `${body}${delimiter}` : body,
      stop,
      terminal,
      finalAnswer: stop === "length" ? null : finalAnswer,
      tokens,
    };
  }

  #toRollout(question: Question, choice: Choice, tokens: number): Rollout {
    const stop: StepStop = choice.finishReason === "length" ? "length" : "end";
    const usingDefaultFormat =
      this.#options.formatPrompt === undefined && this.#options.delimiter === undefined;
    const texts = usingDefaultFormat
      ? // The default prompt ends with the next step's header, so the text starts inside that step.
        splitContinuationSteps(/^\s*Step \d+:/.test(choice.text) ? choice.text : `Step 0: ${choice.text}`)
      : choice.text
          .split(this.#delimiter)
          .map((part) => part.trim())
          .filter((part) => part !== "");
    if (texts.length === 0) texts.push("");
    const extractor = this.#options.extractor ?? markedAnswer;
    const totalChars = texts.reduce((sum, text) => sum + text.length, 0) || 1;
    let left = tokens;
    const steps = texts.map((text, i): StepProposal => {
      const last = i === texts.length - 1;
      // Tokens are reported per sample; each step gets a share by its length, the last the rest.
      const stepTokens = last ? left : Math.round((tokens * text.length) / totalChars);
      left -= stepTokens;
      return {
        text,
        raw: last ? text : `${text}${this.#delimiter}`,
        stop: last ? stop : "delimiter",
        terminal: last,
        finalAnswer: last && stop !== "length" ? extractor(text, question.domain) : null,
        tokens: stepTokens,
      };
    });
    return { steps };
  }
}

const ANSWER_MARKER = /answer\s+is|final\s+answer|####|\\boxed|\\fbox|answer\s*[:：]/i;

/** The answer a step states with a marker ("The answer is ...", `\boxed{}`, `####`), else null. */
export function markedAnswer(text: string, domain: AnswerDomain): string | null {
  return ANSWER_MARKER.test(text) ? extractAnswer(text, domain) : null;
}

function stripHeader(text: string): string {
  return text.replace(/^\s*Step \d+:\s*/, "");
}

// A request's usage is shared evenly among its samples (servers report one total), so sums stay exact.
function share(total: number, index: number, count: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

function readCompletion(
  url: string,
  json: unknown,
  n: number,
): { choices: Choice[]; promptTokens: number; completionTokens: number } {
  if (typeof json !== "object" || json === null)
    throw new MalformedResponseError(url, "(body)", "expected a JSON object");
  const record = json as Record<string, unknown>;
  const choices = record.choices;
  if (!Array.isArray(choices)) throw new MalformedResponseError(url, "choices", "expected an array");
  if (choices.length !== n) {
    throw new MalformedResponseError(
      url,
      "choices",
      `expected ${n} choices (n), got ${choices.length}; set maxChoicesPerRequest: 1 for servers without n`,
    );
  }
  const read = choices.map((choice: unknown, i): Choice & { index: number } => {
    if (typeof choice !== "object" || choice === null)
      throw new MalformedResponseError(url, `choices.${i}`, "expected an object");
    const c = choice as Record<string, unknown>;
    if (typeof c.text !== "string") {
      throw new MalformedResponseError(
        url,
        `choices.${i}.text`,
        `expected a string, got ${c.text === null ? "null" : typeof c.text}`,
      );
    }
    return {
      index: typeof c.index === "number" ? c.index : i,
      text: c.text,
      finishReason: c.finish_reason,
      // vLLM says `stop_reason`, SGLang `matched_stop`; absent (undefined) on other servers.
      stopReason: "stop_reason" in c ? c.stop_reason : "matched_stop" in c ? c.matched_stop : undefined,
    };
  });
  read.sort((a, b) => a.index - b.index);
  const usage = record.usage;
  let promptTokens = 0;
  let completionTokens = 0;
  if (usage !== undefined && usage !== null) {
    if (typeof usage !== "object") throw new MalformedResponseError(url, "usage", "expected an object");
    const u = usage as Record<string, unknown>;
    for (const field of ["prompt_tokens", "completion_tokens"] as const) {
      const value = u[field];
      if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value) || value < 0)) {
        throw new MalformedResponseError(url, `usage.${field}`, "expected a non-negative number");
      }
    }
    promptTokens = (u.prompt_tokens as number | undefined) ?? 0;
    completionTokens = (u.completion_tokens as number | undefined) ?? 0;
  }
  return { choices: read, promptTokens, completionTokens };
}
