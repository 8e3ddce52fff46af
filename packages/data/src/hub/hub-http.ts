// HTTP for the Hub client, on Node's built-in fetch (undici): it ships with Node 20, speaks HTTPS and
// keep-alive, streams bodies, and with `redirect: "manual"` hands back each 3xx so that this file
// decides where the Authorization header may go (a client that follows redirects itself would carry
// it to the CDN). node:http would need the same logic plus our own TLS, pooling and stream plumbing.
// The retry timing (backoff with jitter, Retry-After, the abortable wait) and the description of a
// network failure are the shared ones of ../http; the JSON client there does not fit the Hub's needs
// (HEAD and GET, manual redirects, streamed bodies under an idle timeout, a token for one origin).
import { describeNetworkError } from "../http/http-errors.js";
import { abortableSleep, backoffDelay, parseRetryAfter } from "../http/retry-timing.js";
import { redactSecrets } from "../redact-secrets.js";
import { HubError } from "./hub-error.js";

/** How requests are sent; filled in from the download options. */
export interface HubHttpSettings {
  /** Sent as `Authorization: Bearer` only to `endpointOrigin`. */
  token: string | undefined;
  /** `scheme://host:port` of the Hub endpoint: the one origin that may see the token. */
  endpointOrigin: string;
  /** Extra tries after a network error, a timeout, a 429 or a 5xx (requests here are idempotent). */
  retries: number;
  /**
   * First wait before a retry, doubled each time (capped at 10 s), with jitter (between half and all
   * of it); a Retry-After header wins (also capped at 10 s).
   */
  retryDelayMs: number;
  /** Abort when no response headers or no body bytes arrive for this long. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Told about each retry, for the log. */
  onRetry?: ((message: string) => void) | undefined;
  userAgent: string;
}

/** A response whose body may still be read; `touch` after each chunk keeps the idle timer quiet. */
export interface HubResponse {
  response: Response;
  /** The URL that answered (after the redirects that were followed). */
  url: string;
  /** Resets the idle timeout; call it on each body chunk. */
  touch(): void;
  /** Stops the idle timer and cancels an unread body. */
  close(): Promise<void>;
}

/** Which redirects `hubRequest` follows: same-origin ones only (HEAD, like huggingface_hub), or all. */
export type RedirectPolicy = "same-origin" | "all";

const MAX_REDIRECTS = 10;
const MAX_RETRY_DELAY_MS = 10_000;
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no data for ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/**
 * Sends one HEAD or GET, following redirects per `redirects`, retrying network errors, timeouts,
 * 429 and 5xx answers with exponential backoff and jitter (the shared `backoffDelay`). Every other
 * status is returned to the caller. A 3xx to another origin under the `same-origin` policy is
 * returned as is (its Location is the download URL). The Authorization header goes only to the endpoint's origin, on every hop.
 * @throws HubError (`network`) when no answer came after the retries; the user's AbortSignal's reason
 *   when aborted.
 */
export async function hubRequest(
  method: "HEAD" | "GET",
  url: string,
  settings: HubHttpSettings,
  options: { redirects: RedirectPolicy; headers?: Record<string, string> },
): Promise<HubResponse> {
  for (let attempt = 0; ; attempt++) {
    let failure: unknown;
    let retryAfterMs: number | undefined;
    try {
      const answer = await requestFollowingRedirects(method, url, settings, options);
      const status = answer.response.status;
      if (!RETRYABLE_STATUS.has(status) || attempt >= settings.retries) return answer;
      const asked = parseRetryAfter(answer.response.headers.get("retry-after"));
      retryAfterMs = asked === undefined ? undefined : Math.min(asked, MAX_RETRY_DELAY_MS);
      failure = `HTTP ${status}`;
      await answer.close();
    } catch (error) {
      if (settings.signal?.aborted) throw settings.signal.reason;
      if (attempt >= settings.retries) {
        throw new HubError("network", `could not reach ${hostOf(url)}: ${describeNetworkError(error)}`, {
          url,
          cause: error,
          secrets: [settings.token],
        });
      }
      failure = describeNetworkError(error);
    }
    const delay = Math.round(
      retryAfterMs ?? backoffDelay(attempt, settings.retryDelayMs, MAX_RETRY_DELAY_MS),
    );
    settings.onRetry?.(
      redactSecrets(
        `${method} ${url}: ${String(failure)}; retry ${attempt + 1}/${settings.retries} in ${delay} ms`,
        [settings.token],
      ),
    );
    await abortableSleep(delay, settings.signal);
  }
}

async function requestFollowingRedirects(
  method: "HEAD" | "GET",
  startUrl: string,
  settings: HubHttpSettings,
  options: { redirects: RedirectPolicy; headers?: Record<string, string> },
): Promise<HubResponse> {
  let url = startUrl;
  for (let hop = 0; ; hop++) {
    const answer = await requestOnce(method, url, settings, options.headers ?? {});
    const { response } = answer;
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || location === null) return answer;
    const target = new URL(location, url);
    const sameOrigin = target.origin === new URL(url).origin;
    if (options.redirects === "same-origin" && !sameOrigin) return answer;
    if (hop >= MAX_REDIRECTS) {
      await answer.close();
      throw new HubError("http", `too many redirects from ${startUrl}`, {
        url: startUrl,
        secrets: [settings.token],
      });
    }
    await answer.close();
    url = target.href;
  }
}

async function requestOnce(
  method: "HEAD" | "GET",
  url: string,
  settings: HubHttpSettings,
  extraHeaders: Record<string, string>,
): Promise<HubResponse> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new IdleTimeout(settings.timeoutMs)), settings.timeoutMs);
  };
  const signal = settings.signal ? AbortSignal.any([settings.signal, controller.signal]) : controller.signal;
  const headers: Record<string, string> = {
    "user-agent": settings.userAgent,
    // Sizes and sha256 checks are on the stored bytes: ask for them unencoded.
    "accept-encoding": "identity",
    ...extraHeaders,
  };
  if (settings.token !== undefined && new URL(url).origin === settings.endpointOrigin) {
    headers.authorization = `Bearer ${settings.token}`;
  }
  touch();
  let response: Response;
  try {
    response = await fetch(url, { method, headers, redirect: "manual", signal });
  } catch (error) {
    clearTimeout(timer);
    throw controller.signal.aborted ? controller.signal.reason : error;
  }
  let closed = false;
  return {
    response,
    url,
    touch,
    close: async () => {
      clearTimeout(timer);
      if (closed) return;
      closed = true;
      if (response.body !== null && !response.bodyUsed) await response.body.cancel().catch(() => undefined);
    },
  };
}

/**
 * True for errors that a retry or a resume can get past (network, timeout); false for HubErrors
 * other than `network` and for file-system errors (a full disk does not get better by retrying).
 */
export function isTransientError(error: unknown): boolean {
  if (error instanceof HubError) return error.code === "network";
  if (!(error instanceof Error)) return false;
  const { syscall, path } = error as { syscall?: unknown; path?: unknown };
  return !(typeof syscall === "string" && typeof path === "string");
}

/** Host and port of a URL, for messages. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
