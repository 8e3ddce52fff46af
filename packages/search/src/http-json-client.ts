import type { ApiKeySource, LoadBalancing } from "@pqm/data";
import {
  backoffDelay,
  CompletionRequestError,
  ConcurrencyLimiter,
  MalformedResponseError,
  parseRetryAfter,
  redactSecret,
  resolveApiKey,
} from "@pqm/data";

/** Options of {@link JsonHttpClient}. The API key comes only from `apiKeyEnv` / `apiKeyFile` / `env`. */
export interface JsonHttpClientOptions extends ApiKeySource {
  /** Base URLs, e.g. `http://127.0.0.1:8000/v1`; requests go to `<base><path>`. */
  endpoints: readonly string[];
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
  /** Longest `Retry-After` honoured in ms (default 60,000). */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout in ms, covering the whole response (default 120,000). */
  timeoutMs?: number;
  /** Receives one line per retry or failure (the key is never in it). Silent by default. */
  log?: (line: string) => void;
}

/** Counters of a {@link JsonHttpClient}. */
export interface JsonHttpClientStats {
  requests: number;
  retries: number;
  failures: number;
  /** Requests sent to each endpoint (by base URL). */
  perEndpoint: Record<string, number>;
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
 * JSON over HTTP POST to a pool of servers, built from @pqm/data's HTTP pieces (the concurrency
 * limiter, backoff with jitter, `Retry-After`, API-key resolution and redaction, the request error
 * classes): a limit on requests in flight over all endpoints, load balancing, retries on 429, 5xx,
 * timeouts and dropped connections. The key is only ever sent in the `Authorization` header and is
 * replaced by `***` in every error and log line.
 */
export class JsonHttpClient {
  readonly #options: JsonHttpClientOptions;
  readonly #apiKey: string | undefined;
  readonly #endpoints: Endpoint[];
  readonly #limiter: ConcurrencyLimiter;
  #turn = 0;
  readonly #stats: JsonHttpClientStats = { requests: 0, retries: 0, failures: 0, perEndpoint: {} };

  /** Throws on an empty endpoint list, a bad URL, credentials in a URL or an unreadable key source. */
  constructor(options: JsonHttpClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError("no endpoints given");
    this.#endpoints = options.endpoints.map((url) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new RangeError(`not a URL: ${JSON.stringify(url)}`);
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

  /** Replaces the key in `text` with `***`. */
  redact(text: string): string {
    return redactSecret(text, this.#apiKey);
  }

  /**
   * POSTs `body` as JSON to `<endpoint><path>` and returns the parsed answer and the URL that gave
   * it. Throws CompletionRequestError (after the retries, or at once for another 4xx),
   * MalformedResponseError when the body is not JSON, or the signal's reason when aborted.
   */
  async post(path: string, body: unknown, signal?: AbortSignal): Promise<{ json: unknown; url: string }> {
    const payload = JSON.stringify(body);
    return this.#limiter.run(() => this.#attempts(path, payload, signal), signal);
  }

  async #attempts(path: string, payload: string, signal: AbortSignal | undefined) {
    const retries = this.#options.retries ?? 4;
    for (let attempt = 0; ; attempt++) {
      const endpoint = this.#pick();
      const url = `${endpoint.url}${path}`;
      try {
        return { json: await this.#send(endpoint, url, payload, signal), url };
      } catch (error) {
        if (!(error instanceof RetryableError)) {
          if (error instanceof CompletionRequestError || error instanceof MalformedResponseError) {
            this.#stats.failures++;
            this.#log(`failed: ${error.message}`);
          }
          throw error;
        }
        if (attempt >= retries) {
          this.#stats.failures++;
          const failure = new CompletionRequestError(
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
        await sleep(wait, signal);
      }
    }
  }

  #pick(): Endpoint {
    const count = this.#endpoints.length;
    const start = this.#turn++ % count;
    if (this.#options.loadBalancing === "round-robin") return this.#endpoints[start]!;
    let best = this.#endpoints[start]!;
    for (let i = 1; i < count; i++) {
      const candidate = this.#endpoints[(start + i) % count]!;
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
        throw new RetryableError(`connection failed (${networkReason(error)})`);
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

function snippet(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  return trimmed === "" ? "" : `: ${trimmed.slice(0, 200)}`;
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
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
