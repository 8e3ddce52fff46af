/** What every redacted secret is replaced with. */
export const REDACTED = "[redacted]";

// Hugging Face user tokens start with `hf_`; also catch whatever follows `Bearer` and the
// password part of `user:password@` in URLs, whatever the token looks like.
const HF_TOKEN_PATTERN = /hf_[A-Za-z0-9]{8,}/g;
const BEARER_PATTERN = /(Bearer\s+)[^\s"',;]+/gi;
const URL_PASSWORD_PATTERN = /(\/\/[^/\s:@]*):[^/\s@]*@/g;

/**
 * Removes secrets from a text meant for a message or a log: each listed secret (exactly, wherever it
 * appears; those under 4 characters are ignored as too likely to hit ordinary text), anything shaped
 * like a Hugging Face token (`hf_...`), the value after `Bearer`, and passwords in URLs.
 * @param secrets the tokens in play; `undefined` entries are skipped.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let result = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 4) continue;
    result = result.split(secret).join(REDACTED);
  }
  return result
    .replace(HF_TOKEN_PATTERN, REDACTED)
    .replace(BEARER_PATTERN, `$1${REDACTED}`)
    .replace(URL_PASSWORD_PATTERN, `$1:${REDACTED}@`);
}
