import { setMaxListeners } from "node:events";
import type { Scorer, Trajectory } from "@pqm/core";
import { redactSecrets } from "@pqm/data";
import type { JsonHttpClientStats, LoadBalancing } from "@pqm/data/http";
import { HttpRequestError, JsonHttpClient, resolveApiKey } from "@pqm/data/http";
import type { PoolingReadout } from "../conventions/scoring-convention.js";
import { poolingRowToLogOdds, readPoolingResponse, vllmErrorMessage } from "./pooling-response.js";
import { PoolingStepCountError, ServedModelError } from "./remote-errors.js";

/**
 * The vLLM release whose `/pooling` JSON this scorer is written against: request
 * `{ model?, input: [text...], task: "token_classify" }`, answer `{ data: [{ index, data: rows }] }`,
 * errors `{ error: { message, type, code } }`. Older servers started with `--task reward` answer in the
 * same shape and are accepted (see the package README).
 */
export const VLLM_POOLING_TARGET_RELEASE = "v0.18.1";

/** The environment variable the API key is read from by default (optional: no key, no header). */
export const DEFAULT_PRM_API_KEY_ENV = "PQM_PRM_API_KEY";

/**
 * What the scorer needs of a scoring convention: @pqm/model's `ScoringConvention` has these members
 * (see `getScoringConvention`); any object with them will do.
 */
export interface PoolingConvention {
  readonly name: string;
  /** The text the server tokenizes: special tokens written as text, the step tag after each step. */
  renderText(question: string, steps: readonly string[]): string;
  /** How a STEP-pooling row maps to log-odds; null when vLLM's pooling runner cannot serve the family. */
  readonly poolingReadout: PoolingReadout | null;
  /** The step tag as text (used only to explain a row-count mismatch). */
  readonly stepTag?: string | null;
  /**
   * Added to every step's log-odds after the readout (default 0): a bias the served model lacks, as
   * `pqm-export`'s `vllm` target keeps its score bias in `pqm_export.json`.
   */
  readonly poolingLogOddsOffset?: number;
  /**
   * The `add_special_tokens` the text needs (`pqm-export`: false); sent unless the scorer's own
   * `addSpecialTokens` option says otherwise. Undefined: nothing sent, the server's default.
   */
  readonly poolingAddSpecialTokens?: boolean;
}

/** Progress of a {@link VllmPoolingScorer}: a request answered, or a retry (the line holds no key). */
export type VllmPoolingProgress =
  | {
      type: "batch";
      /** The URL that answered. */
      url: string;
      /** Requests of this `scoreSteps` call answered so far, and in all. */
      batchesDone: number;
      batchesTotal: number;
      /** Trajectories and steps of this call scored so far, and in all. */
      trajectoriesDone: number;
      trajectoriesTotal: number;
      stepsDone: number;
      stepsTotal: number;
    }
  | { type: "retry"; message: string };

/** Options of {@link VllmPoolingScorer}. */
export interface VllmPoolingScorerOptions {
  /**
   * Server base URLs, e.g. `http://127.0.0.1:8000`; requests go to `<url>/pooling` (vLLM serves it at
   * the root, not under `/v1`, so a trailing `/v1` is dropped). Credentials in a URL are refused.
   */
  endpoints: readonly string[];
  /** The scoring convention the served model follows (`getScoringConvention(name)`). */
  convention: PoolingConvention;
  /** The served model name sent as `model` (default: none, the server's own; see {@link VllmPoolingScorer.connect}). */
  model?: string;
  /** Trajectories per request, sent as one `input` list (default 8). */
  batchSize?: number;
  /** Most requests in flight over all endpoints (default 16). */
  concurrency?: number;
  /** `least-in-flight` (default) or `round-robin`. */
  loadBalancing?: LoadBalancing;
  /** Retries after a 429, a 5xx, a timeout or a dropped connection (default 4); never after another 4xx. */
  retries?: number;
  /** First backoff in ms, doubled per retry, with jitter (default 500). */
  backoffMs?: number;
  /** Longest backoff in ms (default 20,000). */
  maxBackoffMs?: number;
  /** Per-request timeout in ms, the whole answer included (default 120,000). */
  timeoutMs?: number;
  /**
   * The environment variable holding the API key, sent as `Authorization: Bearer`. Default
   * `PQM_PRM_API_KEY`, optional; a variable named here must be set.
   */
  apiKeyEnv?: string;
  /** A file whose trimmed content is the key; wins over the variable. */
  apiKeyFile?: string;
  /** The environment to read (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The pooling task sent as `task` (default `token_classify`); null sends none (servers before v0.11). */
  task?: string | null;
  /**
   * Sent as `add_special_tokens` when set (the server's default, true, adds a BOS where the tokenizer has
   * one). Default: the convention's `poolingAddSpecialTokens` (false for `pqm-export`), else none sent.
   */
  addSpecialTokens?: boolean;
  /** The scorer's name (default `vllm-pooling-<convention>-<model or "default">`); keys score caches. */
  name?: string;
  /** Receives progress; the library prints nothing. */
  onProgress?: (event: VllmPoolingProgress) => void;
  /** Aborts every call of this scorer. */
  signal?: AbortSignal;
}

/** The models one endpoint lists at `/v1/models`. */
export interface ServedModels {
  endpoint: string;
  /** Every listed id, in the server's order. */
  models: string[];
  /** The base model: the first entry without a `parent` (LoRA adapters have one). */
  primary: string;
}

/** Counters of a {@link VllmPoolingScorer}: the HTTP client's, plus trajectories and steps scored. */
export interface VllmPoolingStats extends JsonHttpClientStats {
  trajectories: number;
  steps: number;
}

const INTERNAL_KEY_VARIABLE = "PQM_PRM_RESOLVED_KEY";

function normalizeEndpoint(url: string): string {
  return url.trim().replace(/\/+$/, "").replace(/\/v1$/, "");
}

function describeFetchFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const parts = [error.message, typeof cause?.message === "string" ? cause.message : undefined];
  if (typeof cause?.code === "string") parts.push(cause.code);
  return parts
    .filter((part, i, all) => part !== undefined && part !== "" && all.indexOf(part) === i)
    .join(": ");
}

/**
 * A process reward model behind vLLM's pooling API: @pqm/core's `Scorer` whose `scoreSteps` sends
 * every trajectory as text (`convention.renderText(question, steps)`: the step tag after each step) to
 * `POST <endpoint>/pooling` with `task: "token_classify"`, reads one STEP-pooling row per step tag and
 * turns each row into log-odds as `convention.poolingReadout` says (see `poolingRowToLogOdds`), plus the
 * convention's `poolingLogOddsOffset` (the score bias a `pqm-export` for vLLM keeps out of its weights).
 *
 * Requests go through `@pqm/data/http`'s `JsonHttpClient`: `batchSize` trajectories per request, many
 * endpoints (least-in-flight or round-robin), at most `concurrency` requests in flight, retries with
 * exponential backoff and jitter on 429, 5xx, timeouts and dropped connections (none on another 4xx),
 * a per-request timeout, and the API key from `PQM_PRM_API_KEY` (or `apiKeyEnv` / `apiKeyFile`) sent
 * as a Bearer token and removed from every message.
 *
 * Every answer is checked: one entry per input, rows of probabilities of the readout's width, and
 * exactly one row per step; otherwise the call rejects with `MalformedResponseError` or
 * {@link PoolingStepCountError}, naming the URL (and the question and candidate).
 */
export class VllmPoolingScorer implements Scorer {
  readonly name: string;
  readonly convention: PoolingConvention;
  readonly readout: PoolingReadout;
  /** The served model name sent with every request, when known. */
  readonly model: string | undefined;
  readonly batchSize: number;
  readonly client: JsonHttpClient;
  readonly #options: VllmPoolingScorerOptions;
  readonly #apiKey: string | undefined;
  #trajectories = 0;
  #steps = 0;

  /**
   * Throws a RangeError for a convention vLLM cannot serve (`poolingReadout` null), an empty endpoint
   * list, a bad URL or credentials in one, a `batchSize` that is not a positive integer; an Error naming
   * the variable or the file when a named key source cannot be read.
   */
  constructor(options: VllmPoolingScorerOptions) {
    const readout = options.convention.poolingReadout;
    if (readout === null) {
      throw new RangeError(
        `the ${options.convention.name} convention cannot be served by vLLM's pooling runner (no pooling readout); score it locally`,
      );
    }
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    const env = options.env ?? process.env;
    const apiKey =
      options.apiKeyFile !== undefined || options.apiKeyEnv !== undefined
        ? resolveApiKey({
            ...(options.apiKeyFile === undefined ? {} : { apiKeyFile: options.apiKeyFile }),
            ...(options.apiKeyEnv === undefined ? {} : { apiKeyEnv: options.apiKeyEnv }),
            env,
          })
        : env[DEFAULT_PRM_API_KEY_ENV]?.trim() || undefined;
    this.#apiKey = apiKey;
    this.client = new JsonHttpClient({
      endpoints: options.endpoints.map(normalizeEndpoint),
      ...(apiKey === undefined
        ? { env: {} }
        : { apiKeyEnv: INTERNAL_KEY_VARIABLE, env: { [INTERNAL_KEY_VARIABLE]: apiKey } }),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      loadBalancing: options.loadBalancing ?? "least-in-flight",
      ...(options.retries === undefined ? {} : { retries: options.retries }),
      ...(options.backoffMs === undefined ? {} : { backoffMs: options.backoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      log: (line) => {
        if (line.startsWith("retry ")) options.onProgress?.({ type: "retry", message: line });
      },
    });
    this.#options = options;
    this.convention = options.convention;
    this.readout = readout;
    this.model = options.model;
    this.batchSize = batchSize;
    this.name = options.name ?? `vllm-pooling-${options.convention.name}-${options.model ?? "default"}`;
  }

  /**
   * A scorer whose `model` is known: the given one, else the model every endpoint serves, asked of
   * each endpoint's `/v1/models` (see {@link VllmPoolingScorer.servedModels}); the endpoints must agree.
   * The default name then carries the model, so score caches tell models apart.
   * @throws ServedModelError when an endpoint cannot be asked or the endpoints serve different models.
   */
  static async connect(options: VllmPoolingScorerOptions, signal?: AbortSignal): Promise<VllmPoolingScorer> {
    const probe = new VllmPoolingScorer(options);
    if (options.model !== undefined) return probe;
    const served = await probe.servedModels(signal);
    const models = new Set(served.map((entry) => entry.primary));
    if (models.size > 1) {
      throw new ServedModelError(
        `the endpoints serve different models: ${served.map((entry) => `${entry.endpoint} serves ${JSON.stringify(entry.primary)}`).join(", ")}`,
      );
    }
    return new VllmPoolingScorer({ ...options, model: served[0]!.primary });
  }

  /**
   * Asks every endpoint which models it serves (`GET <endpoint>/v1/models`, one attempt each, with the
   * key and the per-request timeout).
   * @throws ServedModelError naming the URL when one cannot be reached or answers something else.
   */
  async servedModels(signal?: AbortSignal): Promise<ServedModels[]> {
    const timeoutMs = this.#options.timeoutMs ?? 120_000;
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    return Promise.all(
      this.client.endpoints.map(async (endpoint) => {
        const url = `${endpoint}/v1/models`;
        const timeout = AbortSignal.timeout(timeoutMs);
        const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
        let status: number;
        let text: string;
        try {
          const response = await fetch(url, { headers, signal: combined });
          status = response.status;
          text = await response.text();
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          const reason = timeout.aborted ? `timed out after ${timeoutMs} ms` : describeFetchFailure(error);
          throw new ServedModelError(this.#redact(`${url}: cannot list the served models: ${reason}`));
        }
        if (status < 200 || status >= 300) {
          const detail = vllmErrorMessage(text) ?? text.trim().slice(0, 200);
          throw new ServedModelError(
            this.#redact(`${url}: HTTP ${status}${detail === "" ? "" : `: ${detail}`}`),
          );
        }
        let data: unknown;
        try {
          data = (JSON.parse(text) as { data?: unknown }).data;
        } catch {
          data = undefined;
        }
        const entries = Array.isArray(data)
          ? data.filter(
              (entry): entry is { id: string; parent?: unknown } =>
                typeof entry === "object" &&
                entry !== null &&
                typeof (entry as { id?: unknown }).id === "string",
            )
          : [];
        if (entries.length === 0) {
          throw new ServedModelError(
            this.#redact(`${url}: the answer lists no model (expected {"data": [{"id": ...}]})`),
          );
        }
        const primary =
          entries.find((entry) => entry.parent === null || entry.parent === undefined) ?? entries[0]!;
        return { endpoint, models: entries.map((entry) => entry.id), primary: primary.id };
      }),
    );
  }

  /** The HTTP client's counters, plus the trajectories and steps scored since the scorer was made. */
  stats(): VllmPoolingStats {
    return { ...this.client.stats(), trajectories: this.#trajectories, steps: this.#steps };
  }

  /** The options as JSON, without the environment, the key or callbacks. */
  toJSON(): Record<string, unknown> {
    const { env: _env, onProgress: _p, signal: _s, convention, ...rest } = this.#options;
    return { ...rest, convention: convention.name, name: this.name, model: this.model };
  }

  /**
   * Log-odds for every step of every trajectory, in input order (a trajectory without steps gets `[]`
   * and is not sent). `options.signal` (and the scorer's own) aborts the call: requests in flight are
   * cancelled and the call rejects with the signal's reason. The first failure cancels the rest.
   */
  async scoreSteps(
    trajectories: readonly Trajectory[],
    options: { signal?: AbortSignal } = {},
  ): Promise<number[][]> {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const outer = [this.#options.signal, options.signal].filter(
      (signal): signal is AbortSignal => signal !== undefined,
    );
    for (const signal of outer) signal.throwIfAborted();
    const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
    for (const signal of outer) signal.addEventListener("abort", onAbort, { once: true });

    const results: number[][] = trajectories.map(() => []);
    const toSend = trajectories.flatMap((trajectory, index) => (trajectory.steps.length > 0 ? [index] : []));
    const batches: number[][] = [];
    for (let start = 0; start < toSend.length; start += this.batchSize) {
      batches.push(toSend.slice(start, start + this.batchSize));
    }
    const progress = {
      batchesDone: 0,
      batchesTotal: batches.length,
      trajectoriesDone: 0,
      trajectoriesTotal: toSend.length,
      stepsDone: 0,
      stepsTotal: toSend.reduce((sum, index) => sum + trajectories[index]!.steps.length, 0),
    };
    try {
      await Promise.all(
        batches.map(async (batch) => {
          try {
            const url = await this.#scoreBatch(trajectories, batch, results, controller.signal);
            progress.batchesDone++;
            progress.trajectoriesDone += batch.length;
            progress.stepsDone += batch.reduce((sum, index) => sum + trajectories[index]!.steps.length, 0);
            this.#options.onProgress?.({ type: "batch", url, ...progress });
          } catch (error) {
            // The first failure cancels the other requests of this call.
            if (!controller.signal.aborted) controller.abort(error);
            throw error;
          }
        }),
      );
    } catch (error) {
      // A cancelled request rejects with the abort reason: report what caused the abort.
      throw controller.signal.aborted ? controller.signal.reason : error;
    } finally {
      for (const signal of outer) signal.removeEventListener("abort", onAbort);
    }
    this.#trajectories += progress.trajectoriesTotal;
    this.#steps += progress.stepsTotal;
    return results;
  }

  async #scoreBatch(
    trajectories: readonly Trajectory[],
    batch: readonly number[],
    results: number[][],
    signal: AbortSignal,
  ): Promise<string> {
    const input = batch.map((index) => {
      const trajectory = trajectories[index]!;
      return this.convention.renderText(trajectory.question.text, trajectory.steps);
    });
    const body: Record<string, unknown> = {};
    if (this.model !== undefined) body.model = this.model;
    body.input = input;
    const task = this.#options.task === undefined ? "token_classify" : this.#options.task;
    if (task !== null) body.task = task;
    const addSpecialTokens = this.#options.addSpecialTokens ?? this.convention.poolingAddSpecialTokens;
    if (addSpecialTokens !== undefined) body.add_special_tokens = addSpecialTokens;
    let answer: { json: unknown; url: string };
    try {
      answer = await this.client.post("/pooling", body, signal);
    } catch (error) {
      throw this.#explain(error);
    }
    const rows = readPoolingResponse(answer.url, answer.json, input.length, this.readout);
    batch.forEach((index, k) => {
      const trajectory = trajectories[index]!;
      const found = rows[k]!;
      if (found.length !== trajectory.steps.length) {
        const candidate = trajectory.meta?.candidate;
        throw new PoolingStepCountError(
          answer.url,
          trajectory.question.id,
          typeof candidate === "number" ? candidate : index,
          trajectory.steps.length,
          found.length,
          this.#redact(this.#mismatchHint(trajectory, found.length)),
        );
      }
      const offset = this.convention.poolingLogOddsOffset ?? 0;
      results[index] = found.map((row) => poolingRowToLogOdds(this.readout, row) + offset);
    });
    return answer.url;
  }

  #mismatchHint(trajectory: Trajectory, rows: number): string {
    const tag = this.convention.stepTag;
    if (tag !== null && tag !== undefined && tag !== "") {
      const holding = trajectory.steps.flatMap((step, i) => (step.includes(tag) ? [i] : []));
      if (holding.length > 0) {
        return `: step${holding.length === 1 ? "" : "s"} ${holding.join(", ")} hold${holding.length === 1 ? "s" : ""} the step tag ${JSON.stringify(tag)} in ${holding.length === 1 ? "its" : "their"} text`;
      }
    }
    if (rows > trajectory.steps.length) {
      return (
        ": a step's text may tokenize to the step tag, or the server returns every token " +
        "(start it with step_tag_id in --pooler-config)"
      );
    }
    return ": the server's step_tag_id may not be the convention's step tag, or the input was truncated";
  }

  /** A 4xx with a vLLM error body becomes `<url>: HTTP 400: <vLLM's message>`; other errors pass. */
  #explain(error: unknown): unknown {
    if (!(error instanceof HttpRequestError) || error.status === undefined) return error;
    if (error.status === 429 || error.status >= 500) return error;
    const detail = vllmErrorMessage(error.message);
    if (detail === undefined) return error;
    const hint =
      error.status === 404 && detail === "Not Found"
        ? " (no /pooling here: is this a vLLM server started with --runner pooling, and is the URL its root?)"
        : "";
    return new HttpRequestError(
      error.url,
      this.#redact(`HTTP ${error.status}: ${detail}${hint}`),
      error.status,
      error.attempts,
      { cause: error },
    );
  }

  #redact(text: string): string {
    return redactSecrets(text, [this.#apiKey]);
  }
}
