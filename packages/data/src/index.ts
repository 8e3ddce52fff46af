// The public API of @pqm/data. Each area keeps its own explicit export list in its folder's index.

export * from "./annotation/index.js";
export * from "./answers/index.js";
export * from "./arith/index.js";
export type { DataLocation } from "./errors.js";
export { DataFormatError, formatLocation } from "./errors.js";
export * from "./formats/index.js";
export * from "./hub/index.js";
