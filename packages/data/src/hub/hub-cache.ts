import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readFile, symlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { replaceAtomic, writeFileAtomic } from "../atomic-write.js";
import type { HfFileRef, HfRepoType } from "./hf-uri.js";
import { isCommitHash, parseHfUri } from "./hf-uri.js";
import type { HubSettingsOptions } from "./hub-settings.js";
import { resolveHfCacheDir } from "./hub-settings.js";

/**
 * `{datasets|models}--{owner}--{name}`: the folder of one repository in the cache, as huggingface_hub
 * names it, so the Python library and this client share one cache.
 */
export function hfRepoFolderName(ref: { repoType: HfRepoType; owner: string; name: string }): string {
  return `${ref.repoType === "dataset" ? "datasets" : "models"}--${ref.owner}--${ref.name}`;
}

/** Where one repository lives in the cache. */
export interface HfRepoCachePaths {
  /** `{cache}/{datasets|models}--{owner}--{name}` */
  repoDir: string;
  /** `{repoDir}/blobs`: one file per ETag. */
  blobsDir: string;
  /** `{repoDir}/refs`: one file per branch or tag, holding its commit. */
  refsDir: string;
  /** `{repoDir}/snapshots`: one folder per commit, with links to the blobs under the repo paths. */
  snapshotsDir: string;
}

/** The cache folders of a repository under `cacheDir` (already resolved). */
export function hfRepoCachePaths(
  cacheDir: string,
  ref: Pick<HfFileRef, "repoType" | "owner" | "name">,
): HfRepoCachePaths {
  const repoDir = join(cacheDir, hfRepoFolderName(ref));
  return {
    repoDir,
    blobsDir: join(repoDir, "blobs"),
    refsDir: join(repoDir, "refs"),
    snapshotsDir: join(repoDir, "snapshots"),
  };
}

/**
 * The commit a revision points to in the cache: the revision itself for a 40-hex commit, else the
 * content of `refs/{revision}`, else undefined.
 */
export function readCachedCommit(paths: HfRepoCachePaths, revision: string): string | undefined {
  if (isCommitHash(revision)) return revision;
  try {
    const commit = readFileSync(join(paths.refsDir, revision), "utf8").trim();
    return isSafeCacheName(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The local path of a cached file (`snapshots/{commit}/{path}`), or undefined when the revision or
 * the file is not in the cache. Never touches the network.
 * @param refOrUri an `hf://` URI or a parsed reference.
 * @throws HubError (`invalid-uri`) for a malformed URI.
 */
export function hfCachedPath(
  refOrUri: string | HfFileRef,
  options: Pick<HubSettingsOptions, "cacheDir" | "env"> = {},
): string | undefined {
  const ref = typeof refOrUri === "string" ? parseHfUri(refOrUri) : refOrUri;
  const paths = hfRepoCachePaths(resolveHfCacheDir(options), ref);
  const commit = readCachedCommit(paths, ref.revision);
  if (commit === undefined) return undefined;
  const pointer = join(paths.snapshotsDir, commit, ...ref.path.split("/"));
  // existsSync follows the link, so a pointer whose blob was deleted counts as missing.
  return existsSync(pointer) ? pointer : undefined;
}

/**
 * True when a server-given name (ETag, commit) can be used as a file name: letters, digits, `.`, `-`,
 * `_`, not `.` or `..`. Anything else could escape the cache folder.
 */
export function isSafeCacheName(name: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(name) && name !== "." && name !== ".." && name.length <= 255;
}

/** Writes `refs/{revision}` = commit atomically (a temp file renamed over it); skips when unchanged. */
export async function writeCachedRef(
  paths: HfRepoCachePaths,
  revision: string,
  commit: string,
): Promise<void> {
  const refPath = join(paths.refsDir, revision);
  try {
    if ((await readFile(refPath, "utf8")).trim() === commit) return;
  } catch {
    // No ref yet: write it.
  }
  await writeFileAtomic(refPath, commit);
}

/**
 * Makes `pointer` refer to `blob`: a relative symlink as huggingface_hub makes (so the cache can be
 * moved), or a copy where symlinks are not allowed (e.g. Windows without developer mode). The link is
 * made under a temporary name and renamed over the pointer, so a reader never sees a half-made one.
 * @returns whether a symlink (true) or a copy (false) was made.
 */
export async function linkSnapshotFile(blob: string, pointer: string): Promise<boolean> {
  await mkdir(dirname(pointer), { recursive: true });
  try {
    await replaceAtomic(pointer, (temporary) => symlink(relative(dirname(pointer), blob), temporary));
    return true;
  } catch {
    // No symlinks here: a copy instead.
  }
  await replaceAtomic(pointer, (temporary) => copyFile(blob, temporary));
  return false;
}
