import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseHfUri } from "./hf-uri.js";
import {
  hfCachedPath,
  hfRepoCachePaths,
  hfRepoFolderName,
  isSafeCacheName,
  linkSnapshotFile,
  writeCachedRef,
} from "./hub-cache.js";

let cacheDir: string;
beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), "pqm-hub-cache-unit-"));
});
afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

describe("hub cache layout", () => {
  it("names repository folders as huggingface_hub does", () => {
    expect(hfRepoFolderName(parseHfUri("hf://datasets/Qwen/ProcessBench/math.json"))).toBe(
      "datasets--Qwen--ProcessBench",
    );
    expect(hfRepoFolderName(parseHfUri("hf://Windy0822/PQM/x.json"))).toBe("models--Windy0822--PQM");
  });

  it("finds a cached file through refs/{revision} and the snapshot link, and not otherwise", async () => {
    const ref = parseHfUri("hf://datasets/o/n/dir/f.jsonl");
    const paths = hfRepoCachePaths(cacheDir, ref);
    expect(hfCachedPath(ref, { cacheDir })).toBeUndefined();

    mkdirSync(paths.blobsDir, { recursive: true });
    const blob = join(paths.blobsDir, "etag1");
    writeFileSync(blob, "x\n");
    const pointer = join(paths.snapshotsDir, COMMIT, "dir", "f.jsonl");
    expect(await linkSnapshotFile(blob, pointer)).toBe(true);
    expect(lstatSync(pointer).isSymbolicLink()).toBe(true);
    // No ref yet: "main" cannot be resolved, but the commit itself can.
    expect(hfCachedPath(ref, { cacheDir })).toBeUndefined();
    expect(hfCachedPath(`hf://datasets/o/n@${COMMIT}/dir/f.jsonl`, { cacheDir })).toBe(pointer);

    await writeCachedRef(paths, "main", COMMIT);
    expect(readFileSync(join(paths.refsDir, "main"), "utf8")).toBe(COMMIT);
    expect(hfCachedPath(ref, { cacheDir })).toBe(pointer);
    expect(hfCachedPath("hf://datasets/o/n/dir/other.jsonl", { cacheDir })).toBeUndefined();
    // A deleted blob makes the link dangle: not cached any more.
    rmSync(blob);
    expect(hfCachedPath(ref, { cacheDir })).toBeUndefined();
  });

  it("writes refs with slashes in their names and replaces a stale link", async () => {
    const paths = hfRepoCachePaths(cacheDir, parseHfUri("hf://o/n/f"));
    await writeCachedRef(paths, "refs/pr/3", COMMIT);
    expect(readFileSync(join(paths.refsDir, "refs", "pr", "3"), "utf8")).toBe(COMMIT);

    mkdirSync(paths.blobsDir, { recursive: true });
    writeFileSync(join(paths.blobsDir, "old"), "old");
    writeFileSync(join(paths.blobsDir, "new"), "new");
    const pointer = join(paths.snapshotsDir, COMMIT, "f");
    await linkSnapshotFile(join(paths.blobsDir, "old"), pointer);
    await linkSnapshotFile(join(paths.blobsDir, "new"), pointer);
    expect(readFileSync(pointer, "utf8")).toBe("new");
    expect(existsSync(`${pointer}.tmp`)).toBe(false);
  });

  it("accepts only names that cannot leave the cache folder", () => {
    expect(isSafeCacheName("a".repeat(64))).toBe(true);
    expect(isSafeCacheName("v1.0-rc_2")).toBe(true);
    for (const bad of ["..", ".", "a/b", "../x", "", "a b", "x\\y"]) expect(isSafeCacheName(bad)).toBe(false);
  });
});
