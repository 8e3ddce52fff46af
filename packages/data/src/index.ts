// The public API of @pqm/data. Each area keeps its own explicit export list in its folder's index.
// The HTTP machinery shared with other packages is a separate entry, `@pqm/data/http` (http/index.ts).

export * from "./annotation/index.js";
export * from "./answers/index.js";
export * from "./arith/index.js";
export type { AtomicFileContent, AtomicFolderOptions, FolderWriter } from "./atomic-write.js";
export { findInterruptedSwap, replaceAtomic, writeFileAtomic, writeFolderAtomic } from "./atomic-write.js";
export type { DataLocation } from "./errors.js";
export { DataFormatError } from "./errors.js";
export type {
  FileSystemErrorCode,
  FileSystemErrorContext,
  FileSystemErrorLike,
} from "./file-system-errors.js";
export { describeFileSystemError, fileSystemErrorCodes, isFileSystemError } from "./file-system-errors.js";
export * from "./formats/index.js";
export * from "./hub/index.js";
export { InterruptedError, isInterruptedError } from "./interrupted.js";
export { environmentSecrets, REDACTED, redactSecrets } from "./redact-secrets.js";
