/**
 * Secret redaction for every text a pqm package puts in a message, a log line or a written report:
 * one definition of what a secret looks like, used by the Hub client, the HTTP client (OpenAI-compatible
 * completers and scorers) and the report writers.
 */

/** What every redacted secret is replaced with. */
export const REDACTED = "[redacted]";

/** Listed secrets shorter than this are ignored: too likely to match ordinary text. */
const MIN_SECRET_LENGTH = 4;

/**
 * Token shapes that are secrets wherever they come from: Hugging Face user tokens (`hf_...`),
 * OpenAI-style API keys (`sk-...`, `sk-proj-...`) and GitHub tokens (`ghp_...`, `gho_...`...).
 */
const TOKEN_SHAPES: readonly RegExp[] = [
  /\bhf_[A-Za-z0-9]{8,}/g,
  /\bsk-[A-Za-z0-9_-]{20,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
];

/** Whatever follows `Bearer` in an Authorization header, whatever the token looks like. */
const BEARER_VALUE = /(Bearer\s+)[^\s"',;]+/gi;

/** The password of `user:password@` in a URL. */
const URL_PASSWORD = /(\/\/[^/\s:@]*):[^/\s@]*@/g;

/** Environment variable names whose values are secrets. */
const SECRET_VARIABLE_NAME = /TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE/i;

/**
 * Removes secrets from `text`, replacing each with `[redacted]`:
 * - each listed secret, exactly and JSON-escaped, wherever it appears (longest first; `undefined`
 *   entries and secrets under 4 characters are skipped);
 * - anything shaped like a Hugging Face token (`hf_` and 8 or more letters and digits), an OpenAI-style
 *   key (`sk-` and 20 or more of letters, digits, `-`, `_`) or a GitHub token (`ghp_`... and 20 or more);
 * - the value after `Bearer`, and the password of `user:password@` in URLs.
 * @param secrets the secrets in play (an API key, a Hub token); see also {@link environmentSecrets}.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  const listed = secrets
    .filter((secret): secret is string => secret !== undefined && secret.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
  let result = text;
  for (const secret of listed) {
    result = result.split(secret).join(REDACTED);
    // A secret may also stand JSON-escaped, e.g. inside a results file.
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) result = result.split(escaped).join(REDACTED);
  }
  for (const shape of TOKEN_SHAPES) result = result.replace(shape, REDACTED);
  return result.replace(BEARER_VALUE, `$1${REDACTED}`).replace(URL_PASSWORD, `$1:${REDACTED}@`);
}

/**
 * The values (8 characters or longer) of the environment variables whose names look secret (`TOKEN`,
 * `KEY`, `SECRET`, `PASSWORD`, `CREDENTIAL`, `AUTH`, `COOKIE`...), for {@link redactSecrets} over texts
 * that may have picked one up, such as a report of a run.
 * @param env the environment to read (default `process.env`).
 */
export function environmentSecrets(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_VARIABLE_NAME.test(name) && value !== undefined && value.length >= 8)
    .map(([, value]) => value as string);
}
