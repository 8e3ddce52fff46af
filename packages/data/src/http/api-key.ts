import { readFileSync } from "node:fs";

/** Where an API key comes from: an environment variable or a file, never a command-line argument. */
export interface ApiKeySource {
  /** The environment variable holding the key (default `OPENAI_API_KEY`, optional then). */
  apiKeyEnv?: string;
  /** A file whose trimmed content is the key; wins over the variable. */
  apiKeyFile?: string;
  /** The environment to read (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Resolves an API key: from `apiKeyFile` when given, else from the variable `apiKeyEnv` (default
 * `OPENAI_API_KEY`). Returns undefined when no key is configured (local servers need none).
 * Throws an Error naming the variable or the file (never the key) when a named variable is unset,
 * the file cannot be read or is empty.
 */
export function resolveApiKey(source: ApiKeySource = {}): string | undefined {
  if (source.apiKeyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(source.apiKeyFile, "utf8");
    } catch (error) {
      throw new Error(
        `cannot read the API key file ${source.apiKeyFile}: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
      );
    }
    const key = text.trim();
    if (key === "") throw new Error(`the API key file ${source.apiKeyFile} is empty`);
    return key;
  }
  const env = source.env ?? process.env;
  const name = source.apiKeyEnv ?? "OPENAI_API_KEY";
  const key = env[name]?.trim();
  if ((key === undefined || key === "") && source.apiKeyEnv !== undefined) {
    throw new Error(`the environment variable ${name} (named as the API key's source) is not set`);
  }
  return key === "" ? undefined : key;
}
