import { redactSecrets } from "../redact-secrets.js";
import type { ApiKeySource } from "./api-key.js";
import { resolveApiKey } from "./api-key.js";
import { ConcurrencyLimiter } from "./concurrency-limiter.js";
import { describeNetworkError, HttpRequestError, MalformedResponseError } from "./http-errors.js";
import { abortableSleep, backoffDelay, parseRetryAfter } from "./retry-timing.js";

/** How requests are spread over several endpoints: in turn, or to the one with fewest in flight. */
export type LoadBalancing = "round-robin" | "least-in-flight";

/** Options of {@link JsonHttpClient}. The API key comes only from `apiKeyEnv`, `apiKeyFile` or `env`. */
export interface JsonHttpClientOptions extends ApiKeySource {
  /** Base URLs, e.g. `http://127.0.0.1:8000/v1`; a request for `path` goes to `<base><path>`. */
  endpoints: readonly string[];
  /** Most requests in flight over all endpoints, retries and their waits included (default 16). */
  concurrency?: number;
  /** Default `least-in-flight`. */
  loadBalancing?: LoadBalancing;
  /** Retries after a 429, a 5xx, a timeout or a dropped connection (default 4). */
  retries?: number;
  /** First backoff in ms, doubled per retry, with jitter (default 500). */
  backoffMs?: number;
  /** Longest backoff in ms (default 20,000). */
  maxBackoffMs?: number;
  /** Longest `Retry-After` honored in ms (default 60,000); longer ones are cut to this. */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout in ms, covering the whole response, body included (default 120,000). */
  timeoutMs?: number;
  /** Receives one line per retry or failure (the key is never in it). Silent by default. */
  log?: (line: string) => void;
}

/** Counters of a {@link JsonHttpClient} since it was made. */
export interface JsonHttpClientStats {
  /** Attempts sent, retries included. */
  requests: number;
  /** Attempts that were retried. */
  retries: number;
  /** Requests that failed for good. */
  failures: number;
  /** Attempts sent to each endpoint (by base URL). */
  perEndpoint: Record<string, number>;
}

/** The answer to {@link JsonHttpClient.post}: the parsed body and the URL that gave it. */
export interface JsonHttpResponse {
  json: unknown;
  url: string;
}

interface Endpoint {
  url: string;
  inFlight: number;
}

class RetryableError extends Error {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status?: number, retryAfterMs?: number) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * JSON over HTTP POST to a pool of servers (OpenAI-compatible completion servers, remote scorers):
 * a limit on requests in flight over all endpoints, round-robin or least-in-flight balancing,
 * retries with exponential backoff and jitter on 429, 5xx, timeouts and dropped connections
 * (honoring `Retry-After`), a per-attempt timeout covering the body, and counters.
 *
 * It uses Node's built-in `fetch` (undici): keep-alive pooling and `AbortSignal` timeouts, no
 * dependency. The API key is read once (see `resolveApiKey`), kept in a private field, sent only in
 * the `Authorization` header, and removed from every error message and log line.
 */
export class JsonHttpClient {
  readonly #options: JsonHttpClientOptions;
  readonly #apiKey: string | undefined;
  readonly #endpoints: Endpoint[];
  readonly #limiter: ConcurrencyLimiter;
  #turn = 0;
  readonly #stats: JsonHttpClientStats = { requests: 0, retries: 0, failures: 0, perEndpoint: {} };

  /**
   * Throws a RangeError on an empty endpoint list, a string that is not an http(s) URL or credentials
   * in a URL, and an Error naming the variable or file when a named key source cannot be read.
   */
  constructor(options: JsonHttpClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError("no endpoints given");
    this.#endpoints = options.endpoints.map((url) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new RangeError(`not a URL: ${JSON.stringify(url)}`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        throw new RangeError(`not an http:// or https:// URL: ${JSON.stringify(url)}`);
      }
      if (parsed.username !== "" || parsed.password !== "") {
        throw new RangeError("put credentials in an environment variable or a key file, not in the URL");
      }
      return { url: url.replace(/\/+$/, ""), inFlight: 0 };
    });
    this.#options = options;
    this.#apiKey = resolveApiKey(options);
    this.#limiter = new ConcurrencyLimiter(options.concurrency ?? 16);
  }

  /** The base URLs, as given (trailing slashes removed). */
  get endpoints(): string[] {
    return this.#endpoints.map((endpoint) => endpoint.url);
  }

  /** A copy of the counters. */
  stats(): JsonHttpClientStats {
    return { ...this.#stats, perEndpoint: { ...this.#stats.perEndpoint } };
  }

  /** `text` with the API key (and anything shaped like a token) replaced, for messages and logs. */
  redact(text: string): string {
    return redactSecrets(text, [this.#apiKey]);
  }

  /**
   * POSTs `body` as JSON to `<endpoint><path>` and returns the parsed answer and the URL that gave
   * it. Waits for a free slot first; retries on another endpoint's turn after a retryable failure.
   * @throws HttpRequestError after the retries, or at once for another non-2xx status.
   * @throws MalformedResponseError when a 2xx body is not JSON.
   * @throws the signal's reason when `signal` aborts (waiting, sending or backing off).
   */
  post(path: string, body: unknown, signal?: AbortSignal): Promise<JsonHttpResponse> {
    const payload = JSON.stringify(body);
    return this.#limiter.run(() => this.#attempts(path, payload, signal), signal);
  }

  async #attempts(path: string, payload: string, signal: AbortSignal | undefined): Promise<JsonHttpResponse> {
    const retries = this.#options.retries ?? 4;
    for (let attempt = 0; ; attempt++) {
      const endpoint = this.#pick();
      const url = `${endpoint.url}${path}`;
      try {
        return { json: await this.#send(endpoint, url, payload, signal), url };
      } catch (error) {
        if (!(error instanceof RetryableError)) {
          if (error instanceof HttpRequestError || error instanceof MalformedResponseError) {
            this.#stats.failures++;
            this.#log(`failed: ${error.message}`);
          }
          throw error;
        }
        if (attempt >= retries) {
          this.#stats.failures++;
          const failure = new HttpRequestError(
            url,
            `${this.redact(error.message)} (gave up after ${attempt + 1} attempts)`,
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
          `retry ${attempt + 1}/${retries} in ${Math.round(wait)} ms: ${url}: ${this.redact(error.message)}`,
        );
        await abortableSleep(wait, signal);
      }
    }
  }

  #pick(): Endpoint {
    const count = this.#endpoints.length;
    const start = this.#turn++ % count;
    if (this.#options.loadBalancing === "round-robin") return this.#endpoints[start] as Endpoint;
    let best = this.#endpoints[start] as Endpoint;
    for (let i = 1; i < count; i++) {
      const candidate = this.#endpoints[(start + i) % count] as Endpoint;
      if (candidate.inFlight < best.inFlight) best = candidate;
    }
    return best;
  }

  async #send(endpoint: Endpoint, url: string, payload: string, signal: AbortSignal | undefined) {
    const timeoutMs = this.#options.timeoutMs ?? 120_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    endpoint.inFlight++;
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
        throw new RetryableError(`connection failed (${describeNetworkError(error)})`);
      }
      if (response.status === 429 || response.status >= 500) {
        throw new RetryableError(
          `HTTP ${response.status}${snippet(text)}`,
          response.status,
          parseRetryAfter(response.headers.get("retry-after")),
        );
      }
      if (!response.ok) {
        throw new HttpRequestError(
          url,
          `HTTP ${response.status}${this.redact(snippet(text))}`,
          response.status,
          1,
        );
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new MalformedResponseError(url, "(body)", `not JSON: ${this.redact(text.slice(0, 80))}`);
      }
    } finally {
      endpoint.inFlight--;
    }
  }

  #log(line: string): void {
    this.#options.log?.(this.redact(line));
  }
}

// The start of an error body, on one line, for a message.
function snippet(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  return trimmed === "" ? "" : `: ${trimmed.slice(0, 200)}`;
}
