/**
 * Atomic writes: a file or a folder is built under a temporary name beside its final path and renamed
 * into place, so a reader (or a rerun after a crash) sees the old version or the new one, never half of
 * one. The one implementation every pqm package uses (scores, caches, reports, checkpoints, exports).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** What {@link writeFileAtomic} writes: bytes, a text (UTF-8), or chunks of either, streamed in order. */
export type AtomicFileContent =
  | string
  | Uint8Array
  | Iterable<string | Uint8Array>
  | AsyncIterable<string | Uint8Array>;

/** A fresh temporary name beside `path`: `.<name>.<kind>-<pid>-<8 hex digits>` in the same folder. */
function siblingName(path: string, kind: "tmp" | "old"): string {
  return join(dirname(path), `.${basename(path)}.${kind}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAndSync(path: string, content: AtomicFileContent): Promise<void> {
  const handle = await open(path, "w");
  try {
    if (typeof content === "string" || content instanceof Uint8Array) {
      await handle.writeFile(content);
    } else {
      // Each writeFile continues where the last one stopped, and writes its chunk whole.
      for await (const chunk of content) await handle.writeFile(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Puts something at `path` atomically: `create` makes it (a file, a link...) at the temporary path it
 * is given (`.<name>.tmp-<pid>-<random>` beside `path`), which is then renamed over `path`. When
 * `create` or the rename fails, the temporary is removed and the error rethrown; `path` is untouched.
 * The folder of `path` must exist.
 */
export async function replaceAtomic(
  path: string,
  create: (temporary: string) => Promise<void>,
): Promise<void> {
  const temporary = siblingName(path, "tmp");
  try {
    await create(temporary);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Writes `content` to `path` atomically and durably: into a temporary sibling, fsynced, then renamed
 * over `path`. Creates the folders on the way. Chunks (an iterable or async iterable) are written as
 * they come, so a large file need not be held in memory; an error they throw aborts the write.
 * @throws whatever the file system or the chunks throw; `path` is then untouched.
 */
export async function writeFileAtomic(path: string, content: AtomicFileContent): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await replaceAtomic(path, (temporary) => writeAndSync(temporary, content));
}

/** Writes files into a folder that is being built; `relativePath` may contain sub-folders. */
export type FolderWriter = (relativePath: string, bytes: Uint8Array | string) => Promise<void>;

/** Options of {@link writeFolderAtomic}. */
export interface AtomicFolderOptions {
  /**
   * Called after each file is written and synced (progress, or a test simulating a crash: what it throws
   * aborts the save before anything replaces the old folder).
   */
  onFileWritten?: (relativePath: string) => void | Promise<void>;
}

/** Whether process `pid` exists (one of another user's counts: it cannot be told apart from a live writer). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes the temporary folders that earlier writes of `target` left when their process died mid-write
 * (`.<name>.tmp-<pid>-*` whose process no longer exists). A live process's temporaries are kept.
 */
async function removeDeadTemporaries(target: string): Promise<void> {
  const prefix = `.${basename(target)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    if (!Number.isInteger(pid) || pid <= 0 || processExists(pid)) continue;
    await rm(join(dirname(target), name), { recursive: true, force: true });
  }
}

/**
 * Builds a folder atomically: `fill` writes into a temporary sibling (`.<name>.tmp-<pid>-<random>`),
 * every file and the folder are fsynced, then the temporary folder takes the target's place by rename.
 * If `fill` fails (or the process dies) the target is untouched; the partial temporary folder is removed
 * when the failure is an exception, and the one a killed process left is removed by the next write of
 * the same target. An existing target is first moved to `.<name>.old-...` and removed after the swap,
 * so readers see either the old folder or the new one (see {@link findInterruptedSwap}).
 * @throws whatever `fill` or the file system throws.
 */
export async function writeFolderAtomic(
  target: string,
  fill: (write: FolderWriter) => Promise<void>,
  options: AtomicFolderOptions = {},
): Promise<void> {
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  await removeDeadTemporaries(target);
  const temporary = siblingName(target, "tmp");
  await mkdir(temporary);
  const folders = new Set<string>([temporary]);
  try {
    await fill(async (relativePath, bytes) => {
      const path = join(temporary, relativePath);
      const folder = dirname(path);
      if (!folders.has(folder)) {
        await mkdir(folder, { recursive: true });
        folders.add(folder);
      }
      await writeAndSync(path, bytes);
      await options.onFileWritten?.(relativePath);
    });
    for (const folder of folders) await syncPath(folder);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(target)) {
    const old = siblingName(target, "old");
    await rename(target, old);
    await rename(temporary, target);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(temporary, target);
  }
  await syncPath(parent);
}

/**
 * A copy of `target` left by a {@link writeFolderAtomic} that died between its two renames
 * (`.<name>.old-*`), or undefined. A loader can mention it when the target is missing.
 */
export async function findInterruptedSwap(target: string): Promise<string | undefined> {
  const parent = dirname(target);
  if (!existsSync(parent)) return undefined;
  const prefix = `.${basename(target)}.old-`;
  const found = (await readdir(parent)).find((entry) => entry.startsWith(prefix));
  return found === undefined ? undefined : join(parent, found);
}
