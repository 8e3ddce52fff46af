// The Hugging Face Hub client. The project keeps its own client instead of the maintained
// `@huggingface/hub` package because, as of its 2.15 release, that package's `downloadFileToCacheDir`
// has no ranged resume of a partial download (a dropped connection starts the file over), no check of
// the downloaded size or sha256 before the file enters the cache, and no offline mode (reading the
// cache without the network, as `HF_HUB_OFFLINE=1` does in Python). This client does all three, in
// the same cache layout as Python's `huggingface_hub`, and keeps the token to the Hub's own origin.
// Revisit when the package gains them.
import type { Hash } from "node:crypto";
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { describeNetworkError } from "../http/http-errors.js";
import { abortableSleep, backoffDelay } from "../http/retry-timing.js";
import { InterruptedError } from "../interrupted.js";
import { redactSecrets } from "../redact-secrets.js";
import type { HfDownloadProgress, ProgressReporter } from "./download-progress.js";
import { createProgressReporter } from "./download-progress.js";
import type { HfFileRef } from "./hf-uri.js";
import { formatHfUri, isCommitHash, parseHfUri, resolveHfUrl } from "./hf-uri.js";
import type { HfRepoCachePaths } from "./hub-cache.js";
import {
  hfCachedPath,
  hfRepoCachePaths,
  isSafeCacheName,
  linkSnapshotFile,
  writeCachedRef,
} from "./hub-cache.js";
import { HubError } from "./hub-error.js";
import type { HubHttpSettings } from "./hub-http.js";
import { hostOf, hubRequest, isTransientError } from "./hub-http.js";
import type { HubSettingsOptions } from "./hub-settings.js";
import { isHfOffline, resolveHfCacheDir, resolveHfEndpoint, resolveHfToken } from "./hub-settings.js";

/** Options of `hfDownload`, `hfFileExists` and `hfFileMetadata`. */
export interface HfDownloadOptions extends HubSettingsOptions {
  /** Overrides the URI's revision (branch, tag or commit). */
  revision?: string;
  /** Extra tries after a network error or a 429/5xx, for each request and for the body. Default 3. */
  retries?: number;
  /** First backoff before a retry in ms, doubled each time (capped at 10 s), with jitter. Default 1000. */
  retryDelayMs?: number;
  /** Give up on a request when no headers or body bytes come for this many ms. Default 30 000. */
  timeoutMs?: number;
  /**
   * Told when a download starts, after every body chunk and when it is done (see
   * `HfDownloadProgress`). Nothing is printed: showing progress is the caller's choice.
   */
  onProgress?: (event: HfDownloadProgress) => void;
  /**
   * Told, in one line each, what the caller may want to know but that is not an error: a retry after
   * a network error or a 429/5xx, a resumed or restarted body, a fall back to the cached copy when
   * the Hub cannot be reached. Never contains the token. Without it these go nowhere.
   */
  onWarning?: (message: string) => void;
  /**
   * Aborts the download; the partial `.incomplete` file stays and a later call resumes it. Aborted
   * during the body, the call rejects with an `InterruptedError` whose `saved` is a `DownloadSaved`
   * (the partial file and its bytes); before it, with the signal's reason.
   */
  signal?: AbortSignal;
}

/** What the Hub says about a file, from a HEAD request. */
export interface HfFileMetadata {
  /** The `resolve` URL asked. */
  url: string;
  /** Where the bytes are fetched from: the same URL, or the CDN URL it redirects to. */
  downloadUrl: string;
  /** The commit the revision points to (`X-Repo-Commit`), else the revision itself. */
  commit: string;
  /** `X-Linked-Etag` (LFS files: their sha256), else `ETag` (git blob id), without quotes or `W/`. */
  etag: string;
  /** `X-Linked-Size`, else `Content-Length`; undefined when the server gave neither. */
  size: number | undefined;
}

const DEFAULT_RETRIES = 3;
const DEFAULT_RETRY_DELAY_MS = 1000;
const DEFAULT_TIMEOUT_MS = 30_000;
const USER_AGENT = `pqm-data node/${process.versions.node}`;
const SHA256_HEX = /^[0-9a-f]{64}$/;

interface DownloadContext {
  ref: HfFileRef;
  uri: string;
  url: string;
  paths: HfRepoCachePaths;
  cacheDir: string;
  offline: boolean;
  token: string | undefined;
  http: HubHttpSettings;
  options: HfDownloadOptions;
  warn: (message: string) => void;
}

// Downloads of the same blob within this process share one promise, so two callers never append to
// the same `.incomplete` file. Across processes huggingface_hub takes a file lock; we do not (see
// docs/hub.md), and the size/sha256 checks catch an interleaved file.
const blobsInFlight = new Map<string, Promise<void>>();

function createContext(uri: string, options: HfDownloadOptions): DownloadContext {
  const parsed = parseHfUri(uri);
  const ref =
    options.revision === undefined
      ? parsed
      : parseHfUri(formatHfUri({ ...parsed, revision: options.revision }));
  const endpoint = resolveHfEndpoint(options);
  const token = resolveHfToken(options);
  const cacheDir = resolveHfCacheDir(options);
  const onWarning = options.onWarning;
  const warn = (message: string): void => onWarning?.(redactSecrets(message, [token]));
  return {
    ref,
    uri: formatHfUri(ref),
    url: resolveHfUrl(ref, { endpoint }),
    paths: hfRepoCachePaths(cacheDir, ref),
    cacheDir,
    offline: isHfOffline(options),
    token,
    options,
    warn,
    http: {
      token,
      endpointOrigin: new URL(endpoint).origin,
      retries: options.retries ?? DEFAULT_RETRIES,
      retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      signal: options.signal,
      onRetry: warn,
      userAgent: USER_AGENT,
    },
  };
}

/**
 * Downloads one Hub file into the local cache (huggingface_hub's layout) and returns its local path,
 * `{cache}/{datasets|models}--{owner}--{name}/snapshots/{commit}/{path}`: a symlink to
 * `blobs/{etag}`, or a copy where symlinks fail. A cached file is returned without downloading; a
 * 40-hex commit revision that is cached is returned without any request. The body goes to
 * `blobs/{etag}.incomplete`, is resumed with a Range request after a dropped connection (here or in
 * a later call), checked against the announced size and, for LFS files (ETag = sha256), the sha256,
 * and only then renamed into place.
 * In offline mode (`offline` or `HF_HUB_OFFLINE`) only the cache is read; when the Hub cannot be
 * reached the cached copy is used if there is one.
 * @param uri `hf://datasets/<owner>/<name>[@rev]/<path>` or `hf://<owner>/<name>[@rev]/<path>`.
 * @throws HubError: `not-found` (404), `access-denied` (401/403), `http` (other statuses),
 *   `network` (unreachable and not cached), `offline` (offline and not cached; names the file and
 *   the cache folder), `integrity` (size or sha256 mismatch; the partial file is deleted),
 *   `invalid-uri`, `invalid-response` (no ETag, or an unusable ETag/commit). Never contains the token.
 */
export async function hfDownload(uri: string, options: HfDownloadOptions = {}): Promise<string> {
  const context = createContext(uri, options);
  const { ref, paths } = context;
  if (context.offline) {
    const cached = hfCachedPath(ref, { cacheDir: context.cacheDir });
    if (cached !== undefined) return cached;
    throw new HubError(
      "offline",
      `offline mode (HF_HUB_OFFLINE or the offline option) and ${context.uri} is not in the cache: ` +
        `looked for revision '${ref.revision}' of ${ref.path} under ${paths.repoDir}`,
      { uri: context.uri, url: context.url },
    );
  }
  if (isCommitHash(ref.revision)) {
    // A commit never changes, so a cached copy is final.
    const cached = hfCachedPath(ref, { cacheDir: context.cacheDir });
    if (cached !== undefined) return cached;
  }

  let metadata: HfFileMetadata;
  try {
    metadata = await fetchMetadata(context);
  } catch (error) {
    if (!(error instanceof HubError) || !isUnreachable(error)) throw error;
    const cached = hfCachedPath(ref, { cacheDir: context.cacheDir });
    if (cached !== undefined) {
      context.warn(`${error.message}; using the cached copy of ${context.uri}`);
      return cached;
    }
    throw new HubError(
      error.code,
      `${error.message}; and ${context.uri} is not in the cache folder ${paths.repoDir}`,
      {
        uri: context.uri,
        url: context.url,
        ...(error.status === undefined ? {} : { status: error.status }),
        cause: error,
        secrets: [context.token],
      },
    );
  }

  if (!isCommitHash(ref.revision)) await writeCachedRef(paths, ref.revision, metadata.commit);
  const pointer = join(paths.snapshotsDir, metadata.commit, ...ref.path.split("/"));
  const blob = join(paths.blobsDir, metadata.etag);
  if (existsSync(pointer) && existsSync(blob)) return pointer;
  if (!existsSync(blob)) {
    let inFlight = blobsInFlight.get(blob);
    if (inFlight === undefined) {
      inFlight = downloadBlob(context, metadata, blob).finally(() => blobsInFlight.delete(blob));
      blobsInFlight.set(blob, inFlight);
    }
    await inFlight;
  }
  await linkSnapshotFile(blob, pointer);
  return pointer;
}

/**
 * Asks the Hub (HEAD) for a file's commit, ETag, size and download URL, following same-host
 * redirects only (a redirect to a CDN is where the bytes are, not more metadata).
 * @throws HubError as `hfDownload` does; `invalid-response` when the server gives no usable ETag or
 *   commit, `offline` in offline mode.
 */
export async function hfFileMetadata(uri: string, options: HfDownloadOptions = {}): Promise<HfFileMetadata> {
  const context = createContext(uri, options);
  if (context.offline) {
    throw new HubError("offline", `offline mode: cannot ask the Hub about ${context.uri}`, {
      uri: context.uri,
    });
  }
  return fetchMetadata(context);
}

/**
 * Whether a Hub file exists: a HEAD request (true for 2xx and redirects, false for 404). Offline, or
 * when the Hub cannot be reached, it answers from the cache when the file is cached.
 * @throws HubError `access-denied` (401/403), `http` (other statuses), `network` (unreachable and not
 *   cached), `invalid-uri`.
 */
export async function hfFileExists(uri: string, options: HfDownloadOptions = {}): Promise<boolean> {
  const context = createContext(uri, options);
  const cached = (): boolean => hfCachedPath(context.ref, { cacheDir: context.cacheDir }) !== undefined;
  if (context.offline) return cached();
  let answer: Awaited<ReturnType<typeof hubRequest>>;
  try {
    answer = await hubRequest("HEAD", context.url, context.http, { redirects: "same-origin" });
  } catch (error) {
    if (error instanceof HubError && isUnreachable(error) && cached()) return true;
    throw error;
  }
  try {
    const { status } = answer.response;
    if (status === 404) return false;
    if (status >= 400) throw await statusError(context, answer.response, answer.url);
    return true;
  } finally {
    await answer.close();
  }
}

function isUnreachable(error: HubError): boolean {
  return error.code === "network" || (error.code === "http" && (error.status ?? 0) >= 500);
}

async function fetchMetadata(context: DownloadContext): Promise<HfFileMetadata> {
  const answer = await hubRequest("HEAD", context.url, context.http, { redirects: "same-origin" });
  try {
    const { response } = answer;
    if (response.status >= 400) throw await statusError(context, response, answer.url);
    const headers = response.headers;
    const isRedirect = response.status >= 300 && response.status < 400;
    if (isRedirect && headers.get("location") === null) {
      throw await statusError(context, response, answer.url);
    }
    const rawEtag = headers.get("x-linked-etag") ?? headers.get("etag");
    const etag = rawEtag === null ? undefined : normalizeEtag(rawEtag);
    if (etag === undefined || !isSafeCacheName(etag)) {
      throw new HubError(
        "invalid-response",
        `the server gave ${etag === undefined ? "no ETag" : `an unusable ETag '${etag}'`} for ${context.uri} ` +
          `(${context.url}), so it cannot be cached (is the endpoint a Hugging Face Hub?)`,
        { uri: context.uri, url: context.url, secrets: [context.token] },
      );
    }
    const commit = headers.get("x-repo-commit")?.trim() || context.ref.revision;
    if (commit !== context.ref.revision && !isSafeCacheName(commit)) {
      throw new HubError(
        "invalid-response",
        `the server gave an unusable commit '${commit}' for ${context.uri}`,
        {
          uri: context.uri,
          url: context.url,
          secrets: [context.token],
        },
      );
    }
    // Content-Length of a redirect is the redirect's own body, not the file's.
    const rawSize = headers.get("x-linked-size") ?? (isRedirect ? null : headers.get("content-length"));
    const size = rawSize === null ? undefined : Number.parseInt(rawSize, 10);
    const location = isRedirect ? new URL(headers.get("location") ?? "", answer.url).href : answer.url;
    return {
      url: context.url,
      downloadUrl: location,
      commit,
      etag,
      size: size !== undefined && Number.isSafeInteger(size) && size >= 0 ? size : undefined,
    };
  } finally {
    await answer.close();
  }
}

/** `W/"abc"` or `"abc"` -> `abc`. */
function normalizeEtag(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, "")
    .replace(/^"(.*)"$/, "$1");
}

async function statusError(context: DownloadContext, response: Response, url: string): Promise<HubError> {
  const { status } = response;
  const code = response.headers.get("x-error-code");
  const serverMessage = response.headers.get("x-error-message") ?? (await readBodyExcerpt(response));
  const detail = [code, serverMessage]
    .filter((part): part is string => part !== null && part.trim() !== "")
    .join(": ")
    .replace(/\s+/g, " ")
    .slice(0, 300);
  const said = detail === "" ? "" : ` (server: ${detail})`;
  // A CDN URL's query string is a short-lived signature: not something to print.
  url = url.replace(/\?.*$/, "");
  const details = { uri: context.uri, url, status, secrets: [context.token] };
  if (status === 404) {
    return new HubError("not-found", `not found: ${context.uri} (${url})${said}`, details);
  }
  if (status === 401 || status === 403) {
    const advice =
      context.token === undefined
        ? "set HF_TOKEN (or pass a token) to a token that has access"
        : "the token sent was refused or lacks access; check HF_TOKEN and accept the repository's terms on the Hub";
    return new HubError(
      "access-denied",
      `access denied to ${context.uri} (${url}): HTTP ${status}; the repository is gated or private: ${advice}${said}`,
      details,
    );
  }
  return new HubError(
    "http",
    `HTTP ${status} ${response.statusText} for ${context.uri} (${url})${said}`,
    details,
  );
}

// Only the start of an error body is useful in a message, and a misbehaving server could send a lot.
async function readBodyExcerpt(response: Response, limit = 2048): Promise<string> {
  if (response.body === null || response.bodyUsed) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } catch {
    // A broken error body is not worth another error.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8", 0, Math.min(length, limit));
}

interface HashState {
  hash: Hash;
  bytes: number;
}

async function downloadBlob(context: DownloadContext, metadata: HfFileMetadata, blob: string): Promise<void> {
  await mkdir(context.paths.blobsDir, { recursive: true });
  const incomplete = `${blob}.incomplete`;
  const expectedSha = SHA256_HEX.test(metadata.etag) ? metadata.etag : undefined;
  const reporter = createProgressReporter(context.uri, context.options.onProgress);
  const state: TransferState = {
    expectedSize: metadata.size,
    hash: undefined,
    reporterStarted: false,
    restarted: false,
  };
  for (let failures = 0; ; ) {
    const offset = await currentSize(incomplete);
    if (state.expectedSize !== undefined && offset > state.expectedSize) {
      // Longer than the file: not a prefix of it, so it cannot be resumed.
      await rm(incomplete, { force: true });
      continue;
    }
    if (!state.reporterStarted) {
      reporter.start(offset, state.expectedSize);
      state.reporterStarted = true;
    }
    if (state.expectedSize !== undefined && offset === state.expectedSize) break;
    try {
      const outcome = await transfer(context, metadata, incomplete, offset, expectedSha, state, reporter);
      if (outcome === "done") break;
    } catch (error) {
      if (context.options.signal?.aborted) throw await interrupted(context, incomplete, state);
      if (!isTransientError(error) || failures >= context.http.retries) {
        if (!isTransientError(error)) throw error;
        const kept = await currentSize(incomplete);
        throw new HubError(
          "network",
          `download of ${context.uri} from ${hostOf(metadata.downloadUrl)} failed: ${describeNetworkError(error)}; ` +
            `${kept} bytes are kept in ${incomplete} and a rerun resumes from there`,
          { uri: context.uri, url: metadata.downloadUrl, cause: error, secrets: [context.token] },
        );
      }
      failures++;
      const delay = Math.round(backoffDelay(failures - 1, context.http.retryDelayMs, 10_000));
      context.warn(
        `download of ${context.uri} interrupted (${describeNetworkError(error)}); ` +
          `resuming in ${delay} ms (retry ${failures}/${context.http.retries})`,
      );
      try {
        await abortableSleep(delay, context.options.signal);
      } catch (error) {
        if (context.options.signal?.aborted) throw await interrupted(context, incomplete, state);
        throw error;
      }
    }
  }
  await verify(context, incomplete, state, expectedSha);
  await rename(incomplete, blob);
  reporter.finish();
}

/** What an aborted download kept: the partial file, which the next call resumes. */
export interface DownloadSaved {
  uri: string;
  /** The `.incomplete` file in the cache's blobs folder. */
  partial: string;
  /** Bytes in it. */
  bytes: number;
  /** The file's size, when the Hub announced it. */
  size: number | undefined;
}

/** The InterruptedError of a download aborted by its caller, naming the partial file it keeps. */
async function interrupted(
  context: DownloadContext,
  incomplete: string,
  state: TransferState,
): Promise<InterruptedError<DownloadSaved>> {
  const bytes = await currentSize(incomplete);
  const of = state.expectedSize === undefined ? "" : ` of ${state.expectedSize}`;
  return new InterruptedError<DownloadSaved>(
    context.options.signal?.reason,
    `kept ${bytes}${of} bytes of ${context.uri} in ${incomplete}; a later download resumes from there`,
    { uri: context.uri, partial: incomplete, bytes, size: state.expectedSize },
  );
}

interface TransferState {
  /** The size to check at the end: from the HEAD, else from the GET. */
  expectedSize: number | undefined;
  /** The running sha256 of the bytes in the `.incomplete` file (LFS files only). */
  hash: HashState | undefined;
  reporterStarted: boolean;
  /** A 416 answer made us restart once; a second one is an error. */
  restarted: boolean;
}

/**
 * One GET of the remaining bytes into the `.incomplete` file. Returns `done` when the body ended
 * normally, `restart` when the partial file had to be dropped and the loop should ask again.
 */
async function transfer(
  context: DownloadContext,
  metadata: HfFileMetadata,
  incomplete: string,
  offset: number,
  expectedSha: string | undefined,
  state: TransferState,
  reporter: ProgressReporter,
): Promise<"done" | "restart"> {
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  const answer = await hubRequest("GET", metadata.downloadUrl, context.http, { redirects: "all", headers });
  try {
    const { response } = answer;
    if (response.status === 416 && offset > 0 && !state.restarted) {
      // The partial file does not fit this file (it changed, or the size was wrong): start over.
      state.restarted = true;
      await rm(incomplete, { force: true });
      return "restart";
    }
    if (response.status >= 300) throw await statusError(context, response, answer.url);
    let position = offset;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (range === undefined || range.start !== offset) {
        await rm(incomplete, { force: true });
        throw new HubError(
          "invalid-response",
          `the server answered a request for ${context.uri} from byte ${offset} with range ` +
            `'${response.headers.get("content-range") ?? "none"}'; the partial download was deleted, rerun to start over`,
          { uri: context.uri, url: answer.url, secrets: [context.token] },
        );
      }
      state.expectedSize ??= range.total;
    } else {
      if (offset > 0) {
        context.warn(
          `${hostOf(answer.url)} ignored the Range request; downloading ${context.uri} from the start`,
        );
        position = 0;
      }
      const length = response.headers.get("content-length");
      if (state.expectedSize === undefined && length !== null)
        state.expectedSize = Number.parseInt(length, 10);
    }
    if (expectedSha !== undefined && (state.hash === undefined || state.hash.bytes !== position)) {
      state.hash = await hashPrefix(incomplete, position);
    }
    const file = await open(incomplete, position === 0 ? "w" : "a");
    try {
      if (response.body !== null) {
        const reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          answer.touch();
          await file.write(value);
          if (state.hash !== undefined) {
            state.hash.hash.update(value);
            state.hash.bytes += value.length;
          }
          position += value.length;
          reporter.update(position, state.expectedSize);
        }
      }
    } finally {
      await file.close();
    }
    return "done";
  } finally {
    await answer.close();
  }
}

async function verify(
  context: DownloadContext,
  incomplete: string,
  state: TransferState,
  expectedSha: string | undefined,
): Promise<void> {
  const size = await currentSize(incomplete);
  if (state.expectedSize !== undefined && size !== state.expectedSize) {
    await rm(incomplete, { force: true });
    throw new HubError(
      "integrity",
      `size mismatch for ${context.uri}: the server announced ${state.expectedSize} bytes but sent ${size}; ` +
        "the partial download was deleted, rerun to fetch it again",
      { uri: context.uri, url: context.url, secrets: [context.token] },
    );
  }
  if (expectedSha === undefined) return;
  if (state.hash === undefined || state.hash.bytes !== size) state.hash = await hashPrefix(incomplete, size);
  const digest = state.hash.hash.digest("hex");
  if (digest !== expectedSha) {
    await rm(incomplete, { force: true });
    throw new HubError(
      "integrity",
      `sha256 mismatch for ${context.uri}: expected ${expectedSha}, got ${digest}; ` +
        "the download was deleted, rerun to fetch it again",
      { uri: context.uri, url: context.url, secrets: [context.token] },
    );
  }
}

/** `bytes 100-199/200` -> start 100, total 200 (`*` total -> undefined). */
function parseContentRange(value: string | null): { start: number; total: number | undefined } | undefined {
  const match = value === null ? null : /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim());
  if (match === null) return undefined;
  const total = match[3] === "*" ? undefined : Number(match[3]);
  return { start: Number(match[1]), total };
}

async function currentSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

// Resuming an LFS file: the sha256 has to cover the bytes already on disk before the new ones.
async function hashPrefix(path: string, bytes: number): Promise<HashState> {
  const hash = createHash("sha256");
  if (bytes > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1 }))
      hash.update(chunk as Buffer);
  }
  return { hash, bytes };
}
