import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoopbackHub } from "@pqm/testing";
import { startLoopbackHub } from "@pqm/testing";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isInterruptedError } from "../interrupted.js";
import type { HfDownloadProgress } from "./download-progress.js";
import type { HfDownloadOptions } from "./hf-download.js";
import { hfDownload, hfFileExists, hfFileMetadata } from "./hf-download.js";
import { HubError } from "./hub-error.js";

// Deliberately not shaped like `hf_...`, so only the exact-secret redaction can hide it.
const TOKEN = "sekrit-Token-4242-abcdef";
const GATE = "the-right-token-000";

let hub: LoopbackHub;
let cacheDir: string;
let logs: string[];
let progress: HfDownloadProgress[];

function options(extra: HfDownloadOptions = {}): HfDownloadOptions {
  return {
    endpoint: hub.endpoint,
    cacheDir,
    token: TOKEN,
    env: {},
    retries: 0,
    retryDelayMs: 10,
    timeoutMs: 5000,
    onWarning: (message) => logs.push(message),
    onProgress: (event) => progress.push(event),
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

/** Every path and every file's bytes under a folder, links followed. */
function walk(folder: string): { paths: string[]; contents: Buffer[] } {
  const paths: string[] = [];
  const contents: Buffer[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    paths.push(full);
    if (existsSync(full) && statSync(full).isFile()) contents.push(readFileSync(full));
  }
  return { paths, contents };
}

const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  hub = await startLoopbackHub();
});

afterAll(async () => {
  await hub.close();
});

beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), "pqm-hub-cache-"));
  logs = [];
  progress = [];
  hub.requests.length = 0;
  Object.assign(hub.behavior, {
    dropNextGetAfter: undefined,
    stallNextGetAfter: undefined,
    ignoreRange: false,
    announcedSize: undefined,
    corrupt: false,
    failNextWith503: 0,
    noCommitHeader: false,
  });
});

afterEach(() => {
  // Whatever a test did, the token must not be anywhere in the cache or the logs.
  const { paths, contents } = walk(cacheDir);
  for (const path of paths) expect(path).not.toContain(TOKEN);
  for (const content of contents) expect(content.includes(TOKEN)).toBe(false);
  for (const line of logs) expect(line).not.toContain(TOKEN);
  rmSync(cacheDir, { recursive: true, force: true });
});

describe("hfDownload of a plain (non-LFS) file", () => {
  it("stores blob, snapshot link and ref in huggingface_hub's layout", async () => {
    const content = hub.addFile("datasets/acme/tiny", "data/test.jsonl", '{"a":1}\n{"a":2}\n');
    const path = await hfDownload("hf://datasets/acme/tiny/data/test.jsonl", options());

    const repoDir = join(cacheDir, "datasets--acme--tiny");
    expect(path).toBe(join(repoDir, "snapshots", hub.commit, "data", "test.jsonl"));
    expect(readFileSync(path)).toEqual(content);
    const etag = createHash("sha1").update(content).digest("hex");
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path)).toBe(join("..", "..", "..", "blobs", etag));
    expect(readFileSync(join(repoDir, "blobs", etag))).toEqual(content);
    expect(readFileSync(join(repoDir, "refs", "main"), "utf8")).toBe(hub.commit);
    expect(readdirSync(join(repoDir, "blobs")).filter((name) => name.endsWith(".incomplete"))).toEqual([]);
    // The hub is the endpoint: it gets the token.
    expect(hub.requests.map((r) => [r.server, r.method, r.authorization])).toEqual([
      ["hub", "HEAD", `Bearer ${TOKEN}`],
      ["hub", "GET", `Bearer ${TOKEN}`],
    ]);
  });

  it("answers from the cache on the second call (HEAD only), and without requests for a cached commit", async () => {
    hub.addFile("acme/model", "config.json", '{"hidden":4}');
    const first = await hfDownload("hf://acme/model/config.json", options());
    expect(first).toContain(join(cacheDir, "models--acme--model", "snapshots", hub.commit));
    hub.requests.length = 0;
    expect(await hfDownload("hf://acme/model/config.json", options())).toBe(first);
    expect(hub.requests.map((r) => r.method)).toEqual(["HEAD"]);
    hub.requests.length = 0;
    expect(await hfDownload(`hf://acme/model@${hub.commit}/config.json`, options())).toBe(first);
    expect(hub.requests).toEqual([]);
  });

  it("uses the revision as the commit when the server sends no X-Repo-Commit", async () => {
    hub.behavior.noCommitHeader = true;
    hub.addFile("datasets/acme/nocommit", "a.json", "[1]");
    const path = await hfDownload("hf://datasets/acme/nocommit@v1.0/a.json", options());
    expect(path).toBe(join(cacheDir, "datasets--acme--nocommit", "snapshots", "v1.0", "a.json"));
    expect(readFileSync(join(cacheDir, "datasets--acme--nocommit", "refs", "v1.0"), "utf8")).toBe("v1.0");
    expect(await hfDownload("hf://datasets/acme/nocommit@v1.0/a.json", options({ offline: true }))).toBe(
      path,
    );
  });

  it("follows a relative redirect on the same host (a renamed repository), token included", async () => {
    const content = hub.addFile("datasets/acme/new-name", "x.jsonl", "{}\n");
    hub.addRename("datasets/acme/old-name", "datasets/acme/new-name");
    const path = await hfDownload("hf://datasets/acme/old-name/x.jsonl", options());
    expect(readFileSync(path)).toEqual(content);
    expect(path).toContain("datasets--acme--old-name");
    const heads = hub.requests.filter((r) => r.method === "HEAD");
    expect(heads.map((r) => r.path)).toEqual([
      "/datasets/acme/old-name/resolve/main/x.jsonl",
      "/datasets/acme/new-name/resolve/main/x.jsonl",
    ]);
    expect(heads.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("retries a 503 with backoff and then succeeds", async () => {
    hub.addFile("datasets/acme/flaky", "f.json", "{}");
    hub.behavior.failNextWith503 = 2;
    const path = await hfDownload("hf://datasets/acme/flaky/f.json", options({ retries: 2 }));
    expect(readFileSync(path, "utf8")).toBe("{}");
    expect(hub.requests.filter((r) => r.method === "HEAD")).toHaveLength(3);
    expect(logs.filter((line) => line.includes("HTTP 503") && line.includes("retry"))).toHaveLength(2);

    hub.behavior.failNextWith503 = 2;
    const error = await rejection(hfDownload("hf://datasets/acme/flaky/g.json", options({ retries: 1 })));
    expect(error.code).toBe("http");
    expect(error.status).toBe(503);
    expect(error.message).toContain("HTTP 503");
    expect(error.message).toContain("not in the cache folder");
  });
});

describe("hfDownload of an LFS file through the CDN", () => {
  const big = randomBytes(256 * 1024);

  it("downloads from the CDN without the token, names the blob by its sha256 and reports progress", async () => {
    hub.addFile("datasets/acme/lfs", "train.parquet", big, { lfs: true });
    const events: number[] = [];
    let done = false;
    const path = await hfDownload(
      "hf://datasets/acme/lfs/train.parquet",
      options({
        onProgress: (event) => {
          events.push(event.downloadedBytes);
          done ||= event.type === "done";
          expect(event.totalBytes).toBe(big.length);
        },
      }),
    );
    expect(sha256(readFileSync(path))).toBe(sha256(big));
    expect(existsSync(join(cacheDir, "datasets--acme--lfs", "blobs", sha256(big)))).toBe(true);
    const cdn = hub.requests.filter((r) => r.server === "cdn");
    expect(cdn.map((r) => r.method)).toEqual(["GET"]);
    expect(cdn.every((r) => r.authorization === undefined)).toBe(true);
    expect(hub.requests.filter((r) => r.server === "hub").map((r) => r.authorization)).toEqual([
      `Bearer ${TOKEN}`,
    ]);
    expect(done).toBe(true);
    expect(events.at(-1)).toBe(big.length);
    // Progress goes to the callback only: no warning line for a clean download.
    expect(logs).toEqual([]);
  });

  it("keeps the .incomplete file when the connection drops, and the next call resumes it with Range", async () => {
    hub.addFile("datasets/acme/drop", "big.bin", big, { lfs: true });
    hub.behavior.dropNextGetAfter = big.length / 2;
    const error = await rejection(hfDownload("hf://datasets/acme/drop/big.bin", options()));
    expect(error.code).toBe("network");
    const blobs = join(cacheDir, "datasets--acme--drop", "blobs");
    const incomplete = join(blobs, `${sha256(big)}.incomplete`);
    expect(error.message).toContain(incomplete);
    const partial = statSync(incomplete).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(big.length);
    expect(readdirSync(blobs)).toEqual([`${sha256(big)}.incomplete`]);
    expect(existsSync(join(cacheDir, "datasets--acme--drop", "snapshots", hub.commit, "big.bin"))).toBe(
      false,
    );

    // The failed try sent a start and some progress, but no done.
    expect(progress[0]).toMatchObject({ type: "start", resumedBytes: 0, totalBytes: big.length });
    expect(progress.some((event) => event.type === "done")).toBe(false);

    hub.requests.length = 0;
    progress = [];
    const path = await hfDownload("hf://datasets/acme/drop/big.bin", options());
    expect(sha256(readFileSync(path))).toBe(sha256(big));
    const resumed = hub.requests.filter((r) => r.server === "cdn");
    expect(resumed.map((r) => r.range)).toEqual([`bytes=${partial}-`]);
    expect(existsSync(incomplete)).toBe(false);
    expect(progress[0]).toMatchObject({ type: "start", downloadedBytes: partial, resumedBytes: partial });
    expect(progress.at(-1)).toMatchObject({
      type: "done",
      downloadedBytes: big.length,
      resumedBytes: partial,
    });
  });

  it("resumes within one call when retries are allowed", async () => {
    hub.addFile("datasets/acme/drop2", "big.bin", big, { lfs: true });
    hub.behavior.dropNextGetAfter = 100_000;
    const path = await hfDownload("hf://datasets/acme/drop2/big.bin", options({ retries: 1 }));
    expect(sha256(readFileSync(path))).toBe(sha256(big));
    const ranges = hub.requests.filter((r) => r.server === "cdn").map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(logs.some((line) => line.includes("interrupted") && line.includes("resuming"))).toBe(true);
  });

  it("starts over when the server ignores Range (200 instead of 206)", async () => {
    hub.addFile("datasets/acme/norange", "big.bin", big, { lfs: true });
    hub.behavior.dropNextGetAfter = 50_000;
    await rejection(hfDownload("hf://datasets/acme/norange/big.bin", options()));
    hub.behavior.ignoreRange = true;
    hub.requests.length = 0;
    const path = await hfDownload("hf://datasets/acme/norange/big.bin", options());
    expect(sha256(readFileSync(path))).toBe(sha256(big));
    expect(hub.requests.filter((r) => r.server === "cdn").map((r) => r.range)).toEqual([
      expect.stringMatching(/^bytes=/),
    ]);
    expect(logs.some((line) => line.includes("ignored the Range request"))).toBe(true);
  });

  it("shares one download between concurrent calls for the same file", async () => {
    hub.addFile("datasets/acme/twice", "big.bin", big, { lfs: true });
    const [first, second] = await Promise.all([
      hfDownload("hf://datasets/acme/twice/big.bin", options()),
      hfDownload("hf://datasets/acme/twice/big.bin", options()),
    ]);
    expect(first).toBe(second);
    expect(sha256(readFileSync(first))).toBe(sha256(big));
    expect(hub.requests.filter((r) => r.server === "cdn")).toHaveLength(1);
  });

  it("gives up on a stalled body after the idle timeout, keeping the partial file", async () => {
    hub.addFile("datasets/acme/stall", "big.bin", big, { lfs: true });
    hub.behavior.stallNextGetAfter = 10_000;
    const started = Date.now();
    const error = await rejection(
      hfDownload("hf://datasets/acme/stall/big.bin", options({ timeoutMs: 300 })),
    );
    expect(Date.now() - started).toBeLessThan(4000);
    expect(error.code).toBe("network");
    expect(error.message).toContain("no data for 300 ms");
    const incomplete = join(cacheDir, "datasets--acme--stall", "blobs", `${sha256(big)}.incomplete`);
    expect(statSync(incomplete).size).toBe(10_000);
    const path = await hfDownload("hf://datasets/acme/stall/big.bin", options());
    expect(sha256(readFileSync(path))).toBe(sha256(big));
  });

  it("stops when the caller aborts, keeping the partial file for a later call", async () => {
    hub.addFile("datasets/acme/abort", "big.bin", big, { lfs: true });
    hub.behavior.stallNextGetAfter = 20_000;
    const controller = new AbortController();
    const download = hfDownload(
      "hf://datasets/acme/abort/big.bin",
      options({
        signal: controller.signal,
        onProgress: (event) => event.downloadedBytes > 0 && controller.abort(),
      }),
    );
    await expect(download).rejects.toThrow(/abort/i);
    const incomplete = join(cacheDir, "datasets--acme--abort", "blobs", `${sha256(big)}.incomplete`);
    const kept = statSync(incomplete).size;
    expect(kept).toBeGreaterThan(0);
    // The error says what stays: an AbortError naming the partial file and its bytes.
    const error = await download.catch((reason: unknown) => reason);
    expect(isInterruptedError(error)).toBe(true);
    expect(error).toMatchObject({
      name: "AbortError",
      saved: { uri: "hf://datasets/acme/abort/big.bin", partial: incomplete, bytes: kept, size: big.length },
    });
    expect((error as Error).message).toContain(`kept ${kept} of ${big.length} bytes`);
    // A later call resumes from the kept bytes and ends with the whole, verified file.
    const path = await hfDownload("hf://datasets/acme/abort/big.bin", options());
    expect(sha256(readFileSync(path))).toBe(sha256(big));
  });

  it("starts over after a 416 when the partial file cannot be a prefix, then checks the size", async () => {
    hub.addFile("datasets/acme/range416", "big.bin", big, { lfs: true });
    hub.behavior.announcedSize = big.length + 10;
    const blobs = join(cacheDir, "datasets--acme--range416", "blobs");
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(big)}.incomplete`), big);
    const error = await rejection(hfDownload("hf://datasets/acme/range416/big.bin", options()));
    expect(error.code).toBe("integrity");
    expect(hub.requests.filter((r) => r.server === "cdn").map((r) => r.range)).toEqual([
      `bytes=${big.length}-`,
      undefined,
    ]);
    expect(readdirSync(blobs)).toEqual([]);
  });

  it("deletes the download and leaves no blob when the size does not match", async () => {
    hub.addFile("datasets/acme/liar", "big.bin", big, { lfs: true });
    hub.behavior.announcedSize = big.length + 10;
    const error = await rejection(hfDownload("hf://datasets/acme/liar/big.bin", options()));
    expect(error.code).toBe("integrity");
    expect(error.message).toContain("size mismatch for hf://datasets/acme/liar/big.bin");
    expect(error.message).toContain(String(big.length + 10));
    const repoDir = join(cacheDir, "datasets--acme--liar");
    expect(readdirSync(join(repoDir, "blobs"))).toEqual([]);
    expect(existsSync(join(repoDir, "snapshots"))).toBe(false);
  });

  it("deletes the download and leaves no blob when the sha256 does not match", async () => {
    hub.addFile("datasets/acme/corrupt", "big.bin", big, { lfs: true });
    hub.behavior.corrupt = true;
    const error = await rejection(hfDownload("hf://datasets/acme/corrupt/big.bin", options()));
    expect(error.code).toBe("integrity");
    expect(error.message).toContain(
      `sha256 mismatch for hf://datasets/acme/corrupt/big.bin: expected ${sha256(big)}`,
    );
    expect(readdirSync(join(cacheDir, "datasets--acme--corrupt", "blobs"))).toEqual([]);
  });
});

describe("hfDownload errors", () => {
  it("says not found with the URI and URL on a 404", async () => {
    const error = await rejection(hfDownload("hf://datasets/acme/tiny/missing.jsonl", options()));
    expect(error.code).toBe("not-found");
    expect(error.status).toBe(404);
    expect(error.message).toContain(
      `not found: hf://datasets/acme/tiny/missing.jsonl (${hub.endpoint}/datasets/acme/tiny/resolve/main/missing.jsonl)`,
    );
  });

  it("says access denied and to set HF_TOKEN for a gated file, without a token", async () => {
    hub.addFile("datasets/acme/gated", "g.jsonl", "{}\n", { gatedToken: GATE });
    const error = await rejection(hfDownload("hf://datasets/acme/gated/g.jsonl", options({ token: false })));
    expect(error.code).toBe("access-denied");
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/access denied .*gated or private.*set HF_TOKEN/);
    expect(hub.requests.at(-1)?.authorization).toBeUndefined();
  });

  it("never repeats a refused token, even when the server echoes it", async () => {
    hub.addFile("datasets/acme/gated2", "g.jsonl", "{}\n", { gatedToken: GATE });
    for (const token of [TOKEN, "hf_AbCdEfGhIjKlMnOpQrStUv"]) {
      const error = await rejection(hfDownload("hf://datasets/acme/gated2/g.jsonl", options({ token })));
      // The server did see it (and echoed it back in its headers).
      expect(hub.requests.at(-1)?.authorization).toBe(`Bearer ${token}`);
      expect(error.code).toBe("access-denied");
      expect(error.message).toContain("you sent");
      const everything = [
        error.message,
        error.stack,
        String(error.cause),
        error.url,
        JSON.stringify(error),
      ].join("\n");
      expect(everything).not.toContain(token);
    }
  });

  it("downloads a gated file with the right token from HF_TOKEN", async () => {
    hub.addFile("datasets/acme/gated3", "g.jsonl", "ok\n", { gatedToken: GATE });
    const path = await hfDownload(
      "hf://datasets/acme/gated3/g.jsonl",
      options({ token: undefined, env: { HF_TOKEN: GATE } }),
    );
    expect(readFileSync(path, "utf8")).toBe("ok\n");
  });
});

describe("hfDownload offline and without network", () => {
  it("reads the cache only in offline mode (option or HF_HUB_OFFLINE)", async () => {
    hub.addFile("datasets/acme/off", "o.jsonl", "{}\n");
    const online = await hfDownload("hf://datasets/acme/off/o.jsonl", options());
    hub.requests.length = 0;
    expect(await hfDownload("hf://datasets/acme/off/o.jsonl", options({ offline: true }))).toBe(online);
    expect(
      await hfDownload("hf://datasets/acme/off/o.jsonl", options({ env: { HF_HUB_OFFLINE: "1" } })),
    ).toBe(online);
    expect(hub.requests).toEqual([]);
  });

  it("names the file and the cache folder when offline and not cached", async () => {
    const error = await rejection(
      hfDownload("hf://datasets/acme/off/absent.jsonl", options({ offline: true })),
    );
    expect(error.code).toBe("offline");
    expect(error.message).toContain("hf://datasets/acme/off/absent.jsonl");
    expect(error.message).toContain(join(cacheDir, "datasets--acme--off"));
    expect(hub.requests).toEqual([]);
  });

  it("falls back to the cached copy when the Hub cannot be reached, and explains when there is none", async () => {
    hub.addFile("datasets/acme/down", "d.jsonl", "{}\n");
    const cached = await hfDownload("hf://datasets/acme/down/d.jsonl", options());
    // A port that was just open and is now closed: connection refused.
    const gone = await startLoopbackHub();
    await gone.close();
    expect(await hfDownload("hf://datasets/acme/down/d.jsonl", options({ endpoint: gone.endpoint }))).toBe(
      cached,
    );
    expect(
      logs.some((line) => line.includes("using the cached copy of hf://datasets/acme/down/d.jsonl")),
    ).toBe(true);

    const error = await rejection(
      hfDownload("hf://datasets/acme/down/other.jsonl", options({ endpoint: gone.endpoint, retries: 1 })),
    );
    expect(error.code).toBe("network");
    expect(error.message).toContain("not in the cache folder");
    expect(error.message).not.toContain(TOKEN);
  });
});

describe("hfFileExists and hfFileMetadata", () => {
  it("answers true, false, or access denied", async () => {
    hub.addFile("datasets/acme/ex", "here.json", "[]");
    hub.addFile("datasets/acme/ex", "lfs.bin", Buffer.alloc(10, 1), { lfs: true });
    hub.addFile("datasets/acme/ex", "gated.json", "[]", { gatedToken: GATE });
    expect(await hfFileExists("hf://datasets/acme/ex/here.json", options())).toBe(true);
    expect(await hfFileExists("hf://datasets/acme/ex/lfs.bin", options())).toBe(true);
    expect(await hfFileExists("hf://datasets/acme/ex/nope.json", options())).toBe(false);
    expect((await rejection(hfFileExists("hf://datasets/acme/ex/gated.json", options()))).code).toBe(
      "access-denied",
    );
    expect(hub.requests.every((r) => r.method === "HEAD" && r.server === "hub")).toBe(true);
  });

  it("reads the LFS metadata from the redirect", async () => {
    const bytes = hub.addFile("acme/m", "w.safetensors", randomBytes(1000), { lfs: true });
    const metadata = await hfFileMetadata("hf://acme/m/w.safetensors", options());
    expect(metadata).toEqual({
      url: `${hub.endpoint}/acme/m/resolve/main/w.safetensors`,
      downloadUrl: `${hub.cdnOrigin}/blobs/models/acme/m/w.safetensors`,
      commit: hub.commit,
      etag: sha256(bytes),
      size: 1000,
    });
  });
});
