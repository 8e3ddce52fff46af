import type { Policy } from "@pqm/core";
import { type ArithEnvironment, type OpenAIApi, OpenAICompatiblePolicy } from "@pqm/data";
import { CliError } from "../../shared/cli-error.js";

/** A parsed `--completer`: the arith policy, or OpenAI-compatible servers. */
export type CompleterSpec = { kind: "arith" } | { kind: "openai"; endpoints: string[] };

/**
 * Parses `--completer arith` or `--completer openai:<base-url>[,<base-url>...]` (base URLs with the
 * API version, e.g. `http://127.0.0.1:8000/v1`). Throws a usage CliError naming the bad part.
 */
export function parseCompleterSpec(value: string): CompleterSpec {
  if (value === "arith") return { kind: "arith" };
  if (!value.startsWith("openai:")) {
    throw new CliError(`--completer '${value}' is not 'arith' or 'openai:<base-url>[,<base-url>...]'`, 2);
  }
  const endpoints = value
    .slice("openai:".length)
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  if (endpoints.length === 0) throw new CliError("--completer openai: needs at least one base URL", 2);
  for (const url of endpoints) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError(`--completer: '${url}' is not a URL (expected e.g. http://127.0.0.1:8000/v1)`, 2);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new CliError(`--completer: '${url}' is not an http(s) URL`, 2);
    }
    if (parsed.username !== "" || parsed.password !== "") {
      throw new CliError(
        "--completer: credentials in a URL are refused; use --api-key-env NAME or --api-key-file PATH",
        2,
      );
    }
  }
  return { kind: "openai", endpoints };
}

/** What an OpenAI-compatible completer needs besides its endpoints. */
export interface OpenAICompleterOptions {
  /** The model name the servers serve. */
  model?: string;
  api: OpenAIApi;
  concurrency: number;
  apiKeyEnv?: string;
  apiKeyFile?: string;
}

/**
 * The completer `annotate` drives: the arith environment's own policy, or an
 * `OpenAICompatiblePolicy` over the endpoints (retries and failures logged on stderr, never the
 * key). Throws a usage CliError when `openai:` has no `--model`, and @pqm/data's error naming the
 * variable or file when the key source cannot be read.
 */
export function createCompleter(
  spec: CompleterSpec,
  environment: ArithEnvironment,
  options: OpenAICompleterOptions,
): Policy {
  if (spec.kind === "arith") return environment.policy;
  if (options.model === undefined) {
    throw new CliError("--completer openai:... needs --model <name> (the model the servers serve)", 2);
  }
  return new OpenAICompatiblePolicy({
    endpoints: spec.endpoints,
    model: options.model,
    api: options.api,
    concurrency: options.concurrency,
    ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
    ...(options.apiKeyFile !== undefined ? { apiKeyFile: options.apiKeyFile } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
}
