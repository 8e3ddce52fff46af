import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeFileSystemError, isFileSystemError } from "./file-system-errors.js";

// Real errors from Node where a test can make them happen; constructed ones (with the fields
// Node gives them) for read-only file systems, permissions and full disks, which a test run as
// root on a writable disk cannot produce.

async function caught(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error("expected the action to fail");
}

function systemError(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: raw text, ${syscall} '${path}'`), {
    code,
    syscall,
    path,
    errno: -1,
  });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-fs-errors-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("describeFileSystemError with real errors", () => {
  it("a missing file in an existing folder: no such file, with the role", async () => {
    const path = join(dir, "nope.jsonl");
    const error = await caught(() => readFile(path));
    expect(describeFileSystemError(error, { role: "the training data" })).toBe(
      `${path} (the training data): no such file; check the path`,
    );
  });

  it("a relative missing path says where relative paths start", async () => {
    const error = await caught(() => readFile("no-such-folder-xyz/nope.jsonl"));
    const message = describeFileSystemError(error, { path: "no-such-folder-xyz/nope.jsonl" });
    expect(message).toContain("no-such-folder-xyz/nope.jsonl: the folder no-such-folder-xyz does not exist");
    expect(message).toContain(`relative paths start from ${process.cwd()}`);
  });

  it("a file in a missing folder: names the missing parent, not the file", async () => {
    const path = join(dir, "missing", "data.jsonl");
    const error = await caught(() => writeFile(path, "x"));
    expect(describeFileSystemError(error, { role: "the output file" })).toBe(
      `${path} (the output file): the folder ${join(dir, "missing")} does not exist; create it first or check the path`,
    );
  });

  it("a folder under a file (ENOTDIR): names the file in the way", async () => {
    const file = join(dir, "plain.txt");
    await writeFile(file, "x");
    const error = await caught(() => mkdir(join(file, "out"), { recursive: true }));
    expect((error as { code?: string }).code).toBe("ENOTDIR");
    expect(describeFileSystemError(error, { path: join(file, "out"), role: "the output folder" })).toBe(
      `${join(file, "out")} (the output folder): ${file} is a file, not a folder; choose another path`,
    );
  });

  it("a recursive mkdir through a file (EEXIST): names the file in the way", async () => {
    const file = join(dir, "plain.txt");
    await writeFile(file, "x");
    const error = await caught(() => mkdir(join(file), { recursive: true }));
    expect(describeFileSystemError(error, { path: join(file, "c.json"), role: "the candidate file" })).toBe(
      `${join(file, "c.json")} (the candidate file): ${file} is a file, not a folder; choose another path`,
    );
  });

  it("reading a folder as a file (EISDIR)", async () => {
    // Node reports this one without a path (it fails on the open handle), so the caller's path counts.
    const error = await caught(() => readFile(dir));
    expect(describeFileSystemError(error, { path: dir, role: "the candidate file" })).toBe(
      `${dir} (the candidate file): is a folder, but a file was expected; give a file path`,
    );
    expect(describeFileSystemError(error, { role: "the candidate file" })).toBe(
      "the candidate file: is a folder, but a file was expected; give a file path",
    );
  });

  it("creating a folder that exists, removing one that is not empty", async () => {
    await writeFile(join(dir, "a"), "x");
    expect(describeFileSystemError(await caught(() => mkdir(dir)))).toBe(
      `${dir}: already exists; remove it or choose another path`,
    );
    expect(describeFileSystemError(await caught(() => rmdir(dir)))).toBe(
      `${dir}: the folder is not empty; empty it or choose another path`,
    );
  });
});

describe("describeFileSystemError with constructed errors", () => {
  it("permission denied, reading and writing", () => {
    expect(
      describeFileSystemError(systemError("EACCES", "open", "/data/x.jsonl"), { role: "the test set" }),
    ).toBe(
      "/data/x.jsonl (the test set): permission denied; check the permissions of the file and the folders above it",
    );
    expect(
      describeFileSystemError(systemError("EPERM", "mkdir", "/srv/out"), { role: "the output folder" }),
    ).toBe(
      "/srv/out (the output folder): permission denied when writing; choose a location you can write to or change its permissions",
    );
  });

  it("read-only file system and full disk", () => {
    expect(describeFileSystemError(systemError("EROFS", "open", "/ro/out/results.json"))).toBe(
      "/ro/out/results.json: read-only file system; choose a writable location",
    );
    expect(
      describeFileSystemError(systemError("ENOSPC", "write", "/full/ckpt"), { role: "the checkpoint" }),
    ).toBe(
      "/full/ckpt (the checkpoint): no space left on the device; free some space or choose another disk",
    );
  });

  it("the path the user gave wins over the error's absolute one", () => {
    expect(describeFileSystemError(systemError("EROFS", "mkdir", "/abs/out"), { path: "out" })).toBe(
      "out: read-only file system; choose a writable location",
    );
  });

  it("anything that is not a file-system error is left to the caller", () => {
    expect(describeFileSystemError(new Error("plain"))).toBeUndefined();
    expect(describeFileSystemError(Object.assign(new Error("net"), { code: "ECONNRESET" }))).toBeUndefined();
    expect(describeFileSystemError("ENOENT")).toBeUndefined();
    expect(isFileSystemError(systemError("ENOSPC", "write", "/x"))).toBe(true);
    expect(isFileSystemError({ code: "ENOENT" })).toBe(false);
  });
});
