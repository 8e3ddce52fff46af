import { redactSecrets } from "../redact-secrets.js";

/**
 * What went wrong talking to the Hub: `not-found` (404), `access-denied` (401/403: gated or private),
 * `http` (another status), `network` (no answer after retries), `offline` (offline mode and not
 * cached), `integrity` (size or sha256 mismatch), `invalid-uri`, `invalid-response` (the server's
 * headers cannot be used, e.g. no ETag).
 */
export type HubErrorCode =
  | "not-found"
  | "access-denied"
  | "http"
  | "network"
  | "offline"
  | "integrity"
  | "invalid-uri"
  | "invalid-response";

/** Details a HubError carries besides its message. None of them ever holds a token. */
export interface HubErrorDetails {
  /** The `hf://` URI concerned. */
  uri?: string;
  /** The HTTP URL concerned. */
  url?: string;
  /** The HTTP status, for `not-found`, `access-denied` and `http`. */
  status?: number;
  /** The underlying error, already redacted. */
  cause?: unknown;
  /** Secrets to remove from the message besides the generic token patterns. */
  secrets?: readonly (string | undefined)[];
}

/**
 * An error from the Hub client. Its message is redacted when built (`redactSecrets`), and its cause is
 * replaced by a redacted copy, so neither can leak a token into logs.
 */
export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly uri: string | undefined;
  readonly url: string | undefined;
  readonly status: number | undefined;

  constructor(code: HubErrorCode, message: string, details: HubErrorDetails = {}) {
    const secrets = details.secrets ?? [];
    super(
      redactSecrets(message, secrets),
      details.cause === undefined ? undefined : { cause: redactedCause(details.cause, secrets) },
    );
    this.name = "HubError";
    this.code = code;
    this.uri = details.uri;
    this.url = details.url === undefined ? undefined : redactSecrets(details.url, secrets);
    this.status = details.status;
  }
}

// A cause from fetch or the file system is rebuilt from its message and code only: its other fields
// (a request object, headers) are not something we can vouch for.
function redactedCause(cause: unknown, secrets: readonly (string | undefined)[]): Error {
  if (cause instanceof HubError) return cause;
  const original = cause instanceof Error ? cause : new Error(String(cause));
  const inner = original.cause instanceof Error ? `: ${original.cause.message}` : "";
  const copy = new Error(redactSecrets(`${original.message}${inner}`, secrets));
  copy.name = original.name;
  const code =
    (original as { code?: unknown }).code ?? (original.cause as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") Object.assign(copy, { code });
  return copy;
}
