import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Writes files into a folder that is being built; `relativePath` may contain sub-folders. */
export type FolderWriter = (relativePath: string, bytes: Uint8Array | string) => Promise<void>;

/** Options of {@link writeFolderAtomically}. */
export interface AtomicFolderOptions {
  /**
   * Called after each file is written and synced (progress, or a test simulating a crash: what it throws
   * aborts the save before anything replaces the old folder).
   */
  onFileWritten?: (relativePath: string) => void | Promise<void>;
}

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Builds a folder atomically: `fill` writes into a temporary sibling (`.<name>.tmp-<pid>-<random>`),
 * every file and the folder are fsynced, then the temporary folder takes the target's place by rename.
 * If `fill` fails (or the process dies) the target is untouched; the partial temporary folder is removed
 * when the failure is an exception. An existing target is first moved to `.<name>.old-...` and removed
 * after the swap, so readers see either the old folder or the new one.
 * @throws whatever `fill` or the file system throws.
 */
export async function writeFolderAtomically(
  target: string,
  fill: (write: FolderWriter) => Promise<void>,
  options: AtomicFolderOptions = {},
): Promise<void> {
  const parent = dirname(target);
  const name = basename(target);
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const temporary = join(parent, `.${name}.tmp-${suffix}`);
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
      const handle = await open(path, "w");
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await options.onFileWritten?.(relativePath);
    });
    for (const folder of folders) await syncPath(folder);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(target)) {
    const old = join(parent, `.${name}.old-${suffix}`);
    await rename(target, old);
    await rename(temporary, target);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(temporary, target);
  }
  await syncPath(parent);
}

/**
 * A copy of `target` left by a save that died between its two renames (`.<name>.old-*`), or undefined.
 * The loader mentions it when the target is missing.
 */
export async function findInterruptedSwap(target: string): Promise<string | undefined> {
  const parent = dirname(target);
  if (!existsSync(parent)) return undefined;
  const prefix = `.${basename(target)}.old-`;
  const found = (await readdir(parent)).find((entry) => entry.startsWith(prefix));
  return found === undefined ? undefined : join(parent, found);
}
