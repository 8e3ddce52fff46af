import { resolve, sep } from "node:path";

/** An error meant for the person at the terminal: printed as one line, then the process exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Exit codes of the `pqm` command. */
export const exitCodes = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;

/** What a path is, for file-system error messages: "the training data", "the output folder". */
export interface FileRole {
  path: string;
  role: string;
}

/** The file-system error in `error` or its `cause` chain, or undefined. */
function findFileSystemError(error: unknown): (Error & { code: string }) | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return current as Error & { code: string };
    current = current.cause;
  }
  return undefined;
}

/**
 * The one-line message for a file-system error (missing file or parent folder, permission,
 * read-only file system, full disk, a folder where a file belongs...), naming the path, its role
 * when known and the remedy; undefined when `error` is no such error. Every command's file-system
 * errors end here (through `withFileRole` or the bin's error handler), so all commands agree.
 */
export async function describeCliFileSystemError(
  error: unknown,
  file?: Partial<FileRole>,
): Promise<string | undefined> {
  const found = findFileSystemError(error);
  if (found === undefined) return undefined;
  // @pqm/data takes seconds to load; by the time a command fails on a file it is usually loaded already.
  const { describeFileSystemError } = await import("@pqm/data");
  return describeFileSystemError(found, {
    ...(file?.path !== undefined ? { path: file.path } : {}),
    ...(file?.role !== undefined ? { role: file.role } : {}),
  });
}

/** The entry of `files` an error on `errorPath` concerns: the same path, or a file below it (its folder failed). */
function fileForError(files: readonly FileRole[], errorPath: string | undefined): FileRole | undefined {
  if (errorPath === undefined) return files.length === 1 ? files[0] : undefined;
  const target = resolve(errorPath);
  return (
    files.find((file) => resolve(file.path) === target) ??
    files.find((file) => resolve(file.path).startsWith(target + sep))
  );
}

/**
 * Runs `action`; a file-system error it throws becomes a CliError naming the path, its role
 * ("the training data") and the remedy. With several files, the one the error's path concerns.
 */
export async function withFileRole<T>(
  files: FileRole | readonly FileRole[],
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof CliError) throw error;
    const found = findFileSystemError(error);
    const file =
      found === undefined
        ? undefined
        : fileForError(Array.isArray(files) ? files : [files as FileRole], (found as { path?: string }).path);
    const message = await describeCliFileSystemError(error, file);
    if (message === undefined) throw error;
    throw new CliError(message);
  }
}
