import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { HubError } from "./hub-error.js";

/** Settings shared by every Hub call; each falls back to the environment as huggingface_hub does. */
export interface HubSettingsOptions {
  /** The Hub's base URL; else `HF_ENDPOINT`; else https://huggingface.co. */
  endpoint?: string;
  /** The cache root; else `HF_HUB_CACHE`; else `$HF_HOME/hub`; else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /**
   * An access token; else `HF_TOKEN`; else the file `HF_TOKEN_PATH` or `$HF_HOME/token`. `false`
   * sends no token at all.
   */
  token?: string | false;
  /** Use the cache only; else `HF_HUB_OFFLINE` (`1`, `true`, `yes`, `on`). */
  offline?: boolean;
  /** The environment to read instead of `process.env` (tests, embedding). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The public Hub, used when neither the option nor `HF_ENDPOINT` names another. */
export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

function environment(options: HubSettingsOptions): Readonly<Record<string, string | undefined>> {
  return options.env ?? process.env;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * The Hub's base URL without a trailing slash: option, else `HF_ENDPOINT`, else https://huggingface.co.
 * @throws HubError (`invalid-uri`) when it is not an http(s) URL.
 */
export function resolveHfEndpoint(options: HubSettingsOptions = {}): string {
  const endpoint =
    nonEmpty(options.endpoint) ?? nonEmpty(environment(options).HF_ENDPOINT) ?? DEFAULT_HF_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new HubError("invalid-uri", `invalid Hub endpoint '${endpoint}': not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new HubError("invalid-uri", `invalid Hub endpoint '${endpoint}': expected http:// or https://`);
  }
  return endpoint.replace(/\/+$/, "");
}

/** `HF_HOME`, else `~/.cache/huggingface` (huggingface_hub's default, also honouring `XDG_CACHE_HOME`). */
export function resolveHfHome(options: Pick<HubSettingsOptions, "env"> = {}): string {
  const env = environment(options);
  const hfHome = nonEmpty(env.HF_HOME);
  if (hfHome !== undefined) return resolve(hfHome);
  const xdgCache = nonEmpty(env.XDG_CACHE_HOME);
  return xdgCache !== undefined
    ? join(resolve(xdgCache), "huggingface")
    : join(homedir(), ".cache", "huggingface");
}

/** The cache root: option, else `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
export function resolveHfCacheDir(options: HubSettingsOptions = {}): string {
  const explicit = nonEmpty(options.cacheDir) ?? nonEmpty(environment(options).HF_HUB_CACHE);
  return explicit !== undefined ? resolve(explicit) : join(resolveHfHome(options), "hub");
}

/**
 * The access token to send, or undefined: option (`false` for none), else `HF_TOKEN`, else the first
 * line of the token file (`HF_TOKEN_PATH`, else `$HF_HOME/token`). A missing or unreadable token file
 * means no token.
 */
export function resolveHfToken(options: HubSettingsOptions = {}): string | undefined {
  if (options.token === false) return undefined;
  const fromOption = nonEmpty(options.token);
  if (fromOption !== undefined) return fromOption;
  const env = environment(options);
  const fromEnv = nonEmpty(env.HF_TOKEN);
  if (fromEnv !== undefined) return fromEnv;
  const tokenFile = nonEmpty(env.HF_TOKEN_PATH) ?? join(resolveHfHome(options), "token");
  try {
    return nonEmpty(readFileSync(tokenFile, "utf8").split(/\r?\n/)[0]);
  } catch {
    return undefined;
  }
}

/** Whether to use the cache only: option, else `HF_HUB_OFFLINE` set to 1/true/yes/on (any case). */
export function isHfOffline(options: HubSettingsOptions = {}): boolean {
  if (options.offline !== undefined) return options.offline;
  const value = nonEmpty(environment(options).HF_HUB_OFFLINE)?.toLowerCase();
  return value === "1" || value === "true" || value === "yes" || value === "on";
}
