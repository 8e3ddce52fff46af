/** Environment variable names whose values are treated as secrets. */
const secretNamePattern = /TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE/i;

/** Token shapes that are secrets wherever they come from (Hugging Face, OpenAI-style, GitHub). */
const secretShapes = [
  /\bhf_[A-Za-z0-9]{20,}\b/g,
  /\bsk-[A-Za-z0-9_-]{20,}\b/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}\b/g,
];

/**
 * Replaces secrets in `text` with `[redacted]`: the values (8 characters or longer) of environment
 * variables whose names look secret (TOKEN, KEY, SECRET, PASSWORD...), and well-known token shapes
 * (`hf_...`, `sk-...`, `ghp_...`). Run over everything a report writes.
 */
export function scrubSecrets(text: string, env: Record<string, string | undefined> = process.env): string {
  const values = Object.entries(env)
    .filter(([name, value]) => secretNamePattern.test(name) && value !== undefined && value.length >= 8)
    .map(([, value]) => value!)
    .sort((a, b) => b.length - a.length);
  let scrubbed = text;
  for (const value of values) scrubbed = scrubbed.split(value).join("[redacted]");
  // A value may also appear JSON-escaped inside results.json.
  for (const value of values) {
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) scrubbed = scrubbed.split(escaped).join("[redacted]");
  }
  for (const shape of secretShapes) scrubbed = scrubbed.replace(shape, "[redacted]");
  return scrubbed;
}
