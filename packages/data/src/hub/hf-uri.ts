import { HubError } from "./hub-error.js";
import type { HubSettingsOptions } from "./hub-settings.js";
import { resolveHfEndpoint } from "./hub-settings.js";

/** The two kinds of Hub repository this client reads. */
export type HfRepoType = "model" | "dataset";

/** One file in one Hub repository at one revision, as named by an `hf://` URI. */
export interface HfFileRef {
  repoType: HfRepoType;
  owner: string;
  name: string;
  /** A branch, tag or 40-hex commit; `main` when the URI names none. */
  revision: string;
  /** The file's path inside the repository, `/`-separated, never empty, never with `..`. */
  path: string;
}

/** Revision used when a URI names none, as on the Hub. */
export const DEFAULT_REVISION = "main";

// Owners and repository names on the Hub are letters, digits, `-`, `_` and `.`; being strict here
// also keeps them safe as parts of a cache folder name.
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses `hf://datasets/<owner>/<name>[@revision]/<path>` (a dataset repository) or
 * `hf://<owner>/<name>[@revision]/<path>` (a model repository). A revision containing `/`
 * (`refs/convert/parquet`) is written percent-encoded (`@refs%2Fconvert%2Fparquet`), as
 * huggingface_hub's file system does.
 * @throws HubError (code `invalid-uri`) naming the URI and what is wrong with it: another scheme,
 *   a missing owner, name or path, a path with `..`, `.`, empty segments or backslashes.
 */
export function parseHfUri(uri: string): HfFileRef {
  const fail = (reason: string): never => {
    throw new HubError("invalid-uri", `invalid Hub URI '${uri}': ${reason}`, { uri });
  };
  if (!uri.startsWith("hf://")) fail("expected it to start with hf://");
  let rest = uri.slice("hf://".length);
  let repoType: HfRepoType = "model";
  if (rest.startsWith("datasets/")) {
    repoType = "dataset";
    rest = rest.slice("datasets/".length);
  } else if (rest.startsWith("spaces/")) {
    fail("Spaces are not supported, only model and dataset repositories");
  }
  const parts = rest.split("/");
  const owner = parts[0] ?? "";
  const nameAndRevision = parts[1] ?? "";
  const path = parts.slice(2).join("/");
  if (owner === "" || nameAndRevision === "") fail("expected <owner>/<name>/<path>");
  const at = nameAndRevision.indexOf("@");
  const name = at === -1 ? nameAndRevision : nameAndRevision.slice(0, at);
  let revision = DEFAULT_REVISION;
  if (at !== -1) {
    try {
      revision = decodeURIComponent(nameAndRevision.slice(at + 1));
    } catch {
      fail("the revision after '@' is not valid percent-encoding");
    }
  }
  if (!REPO_PART.test(owner)) fail(`owner '${owner}' has characters the Hub does not allow`);
  if (!REPO_PART.test(name)) fail(`repository name '${name}' has characters the Hub does not allow`);
  checkRevision(revision, fail);
  if (path === "") fail("no file path after the repository");
  checkRepoPath(path, fail);
  return { repoType, owner, name, revision, path };
}

/** Writes a file reference back as an `hf://` URI (the revision only when it is not `main`). */
export function formatHfUri(ref: HfFileRef): string {
  const prefix = ref.repoType === "dataset" ? "hf://datasets/" : "hf://";
  const revision = ref.revision === DEFAULT_REVISION ? "" : `@${encodeURIComponent(ref.revision)}`;
  return `${prefix}${ref.owner}/${ref.name}${revision}/${ref.path}`;
}

/** `owner/name`, the Hub's repository id. */
export function hfRepoId(ref: Pick<HfFileRef, "owner" | "name">): string {
  return `${ref.owner}/${ref.name}`;
}

/**
 * The Hub URL that serves a file: `{endpoint}/datasets/{owner}/{name}/resolve/{revision}/{path}` for
 * datasets, `{endpoint}/{owner}/{name}/resolve/{revision}/{path}` for models. The revision is
 * encoded as one URL segment, the path segment by segment.
 * @param refOrUri an `hf://` URI or a parsed reference.
 * @param options `endpoint` (the Hub's base URL), else `HF_ENDPOINT`, else https://huggingface.co.
 * @throws HubError (code `invalid-uri`) for a malformed URI or endpoint.
 */
export function resolveHfUrl(
  refOrUri: string | HfFileRef,
  options: Pick<HubSettingsOptions, "endpoint" | "env"> = {},
): string {
  const ref = typeof refOrUri === "string" ? parseHfUri(refOrUri) : refOrUri;
  const base = resolveHfEndpoint(options);
  const repoPrefix = ref.repoType === "dataset" ? "datasets/" : "";
  const encodedPath = ref.path.split("/").map(encodeURIComponent).join("/");
  return `${base}/${repoPrefix}${ref.owner}/${ref.name}/resolve/${encodeURIComponent(ref.revision)}/${encodedPath}`;
}

/** True for a full 40-hex commit id, which names an immutable snapshot. */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

// Revisions and paths become folder names in the cache (`refs/{revision}`,
// `snapshots/{commit}/{path}`), so anything that could climb out of the cache is refused.
function checkRevision(revision: string, fail: (reason: string) => never): void {
  if (revision === "") fail("empty revision after '@'");
  if (revision.includes("\\") || revision.split("/").some((s) => s === "" || s === "." || s === "..")) {
    fail(`revision '${revision}' is not a safe branch, tag or commit name`);
  }
}

function checkRepoPath(path: string, fail: (reason: string) => never): void {
  if (path.includes("\\")) fail("the file path contains a backslash");
  if (path.split("/").some((s) => s === "" || s === "." || s === "..")) {
    fail(`the file path '${path}' has an empty, '.' or '..' segment`);
  }
  if (path.includes("\0")) fail("the file path contains a NUL character");
}
