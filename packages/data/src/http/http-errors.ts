// The errors of the JSON client, and a token-free description of a failed fetch.

/**
 * A request failed for good: after its retries (a 429, a 5xx, a timeout or a dropped connection
 * every time), or at once for another status such as 400 or 401. Its message starts with the URL and
 * never contains the API key.
 */
export class HttpRequestError extends Error {
  /** The URL called (never with credentials). */
  readonly url: string;
  /** The last HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** Attempts made, the first included. */
  readonly attempts: number;

  constructor(
    url: string,
    message: string,
    status: number | undefined,
    attempts: number,
    options?: ErrorOptions,
  ) {
    super(`${url}: ${message}`, options);
    this.name = "HttpRequestError";
    this.url = url;
    this.status = status;
    this.attempts = attempts;
  }
}

/**
 * The server answered 200 with a body that is not what was asked for: not JSON, or JSON without
 * the expected field. Names the URL and the field.
 */
export class MalformedResponseError extends Error {
  /** The URL that answered. */
  readonly url: string;
  /** The offending field as a path (`choices.0.text`), or `(body)` when the body is not JSON. */
  readonly field: string;

  constructor(url: string, field: string, reason: string) {
    super(`${url}: malformed response: field '${field}': ${reason}`);
    this.name = "MalformedResponseError";
    this.url = url;
    this.field = field;
  }
}

/**
 * A short description of a failed `fetch` (`fetch failed: connect ECONNREFUSED 127.0.0.1:9:
 * ECONNREFUSED`, `terminated`, a timeout): the error's message, its cause's message and code, each
 * once. It holds no headers, so no token.
 */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const code = typeof cause?.code === "string" ? cause.code : (error as { code?: unknown }).code;
  const detail = typeof cause?.message === "string" && cause.message !== "" ? cause.message : undefined;
  const parts = [error.message, detail, typeof code === "string" ? code : undefined].filter(
    (part, index, all) => part !== undefined && all.indexOf(part) === index,
  );
  return parts.join(": ");
}
