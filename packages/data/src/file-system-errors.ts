import { accessSync, constants, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";

/** The error codes `describeFileSystemError` knows how to explain. */
export const fileSystemErrorCodes = [
  "ENOENT",
  "EACCES",
  "EPERM",
  "EROFS",
  "ENOSPC",
  "EDQUOT",
  "EISDIR",
  "ENOTDIR",
  "EEXIST",
  "ENOTEMPTY",
  "EMFILE",
  "ENFILE",
  "ENAMETOOLONG",
  "ELOOP",
  "EBUSY",
] as const;

/** One of the error codes in `fileSystemErrorCodes`. */
export type FileSystemErrorCode = (typeof fileSystemErrorCodes)[number];

/** A Node.js file-system error: an `Error` with a string `code` such as `ENOENT`, and usually `path` and `syscall`. */
export interface FileSystemErrorLike extends Error {
  code: string;
  path?: string;
  dest?: string;
  syscall?: string;
}

/** True when `error` is a Node.js error whose `code` is one of the file-system codes `describeFileSystemError` explains. */
export function isFileSystemError(error: unknown): error is FileSystemErrorLike {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && (fileSystemErrorCodes as readonly string[]).includes(code);
}

/** What the caller knows about the file the error concerns. */
export interface FileSystemErrorContext {
  /** The path as the user gave it (default: the error's own `path`). */
  path?: string;
  /** What the path is, for the message: "the training data", "the output folder" (default: none). */
  role?: string;
}

// System calls that create or change a file, so a failure is a failure to write.
const writingCalls = new Set([
  "mkdir",
  "mkdtemp",
  "rename",
  "unlink",
  "rmdir",
  "rm",
  "write",
  "copyfile",
  "symlink",
  "link",
  "chmod",
  "utime",
  "ftruncate",
]);

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The nearest folder above `path` (or `path` itself) that exists, or undefined. */
function nearestExistingAncestor(path: string): string | undefined {
  let current = resolve(path);
  for (;;) {
    if (exists(current)) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/** Why `folder` cannot be written to: "EROFS", "EACCES", or undefined when it can (or the check cannot say). */
function writeBlocker(folder: string): string | undefined {
  try {
    accessSync(folder, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return code === "EROFS" || code === "EACCES" || code === "EPERM" ? code : undefined;
  }
}

/**
 * One line for a file-system error, naming the path, what it is and what to do:
 *
 * - `ENOENT`: the file is missing, or (when writing, or the folder above is missing) the parent
 *   folder is; a "missing" folder whose nearest existing ancestor cannot be written (Node's
 *   recursive `mkdir` reports a read-only file system as ENOENT) is reported as read-only or
 *   permission denied instead;
 * - `EACCES`/`EPERM`: permission denied; `EROFS`: read-only file system; `ENOSPC`/`EDQUOT`: disk
 *   full or quota; `EISDIR`/`ENOTDIR`: a folder where a file was expected, or the reverse;
 *   `EEXIST`, `ENOTEMPTY`, `EMFILE`/`ENFILE`, `ENAMETOOLONG`, `ELOOP`, `EBUSY`.
 *
 * Returns undefined for anything that is not such an error, so callers can fall back to the
 * error's own message. Checks the disk (synchronously) only for ENOENT, to tell the cases apart.
 */
export function describeFileSystemError(
  error: unknown,
  context: FileSystemErrorContext = {},
): string | undefined {
  if (!isFileSystemError(error)) return undefined;
  const known = context.path ?? error.path;
  const path = known ?? ".";
  const errorPath = error.path ?? path;
  const writing = error.syscall !== undefined && writingCalls.has(error.syscall);
  // Without a path (errors on open file handles carry none), the role or "a file" stands in.
  const subject =
    known === undefined ? (context.role ?? "a file") : context.role ? `${known} (${context.role})` : known;
  switch (error.code as FileSystemErrorCode) {
    case "ENOENT": {
      const parent = dirname(resolve(errorPath));
      const relative = isAbsolute(path) ? "" : ` (relative paths start from ${process.cwd()})`;
      if (!writing && isDirectory(parent)) return `${subject}: no such file; check the path${relative}`;
      const ancestor = nearestExistingAncestor(parent);
      if (ancestor !== undefined && !isDirectory(ancestor)) {
        return `${subject}: ${ancestor} is a file, not a folder; choose another path`;
      }
      if (writing && ancestor !== undefined) {
        const blocker = writeBlocker(ancestor);
        if (blocker === "EROFS") {
          return `${subject}: cannot create it, ${ancestor} is on a read-only file system; choose a writable location`;
        }
        if (blocker !== undefined) {
          return `${subject}: cannot create it, permission denied in ${ancestor}; choose a folder you can write to or change its permissions`;
        }
      }
      return `${subject}: the folder ${dirname(path)} does not exist; create it first or check the path${relative}`;
    }
    case "EACCES":
    case "EPERM":
      return writing
        ? `${subject}: permission denied when writing; choose a location you can write to or change its permissions`
        : `${subject}: permission denied; check the permissions of the file and the folders above it`;
    case "EROFS":
      return `${subject}: read-only file system; choose a writable location`;
    case "ENOSPC":
      return `${subject}: no space left on the device; free some space or choose another disk`;
    case "EDQUOT":
      return `${subject}: disk quota exceeded; free some space or choose another disk`;
    case "EISDIR":
      return `${subject}: is a folder, but a file was expected; give a file path`;
    case "ENOTDIR": {
      const ancestor = nearestExistingAncestor(dirname(resolve(errorPath)));
      if (ancestor !== undefined && !isDirectory(ancestor)) {
        return `${subject}: ${ancestor} is a file, not a folder; choose another path`;
      }
      return `${subject}: is not a folder, but a folder was expected; give a folder path`;
    }
    case "EEXIST":
      // A recursive mkdir meeting a file where a folder of the path belongs.
      if (error.syscall === "mkdir" && exists(resolve(errorPath)) && !isDirectory(resolve(errorPath))) {
        return `${subject}: ${resolve(errorPath)} is a file, not a folder; choose another path`;
      }
      return `${subject}: already exists; remove it or choose another path`;
    case "ENOTEMPTY":
      return `${subject}: the folder is not empty; empty it or choose another path`;
    case "EMFILE":
    case "ENFILE":
      return `${subject}: too many open files; raise the limit (ulimit -n) or run fewer jobs at once`;
    case "ENAMETOOLONG":
      return `${subject}: the path is too long; choose a shorter one`;
    case "ELOOP":
      return `${subject}: too many symbolic links (a link loop?); check the links on the path`;
    case "EBUSY":
      return `${subject}: busy (in use by another program); close it and try again`;
  }
}
