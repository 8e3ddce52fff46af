import { extname } from "node:path";
import { DataFormatError } from "../errors.js";
import { readJsonArray } from "./json-array-reader.js";
import type { SourceRecord } from "./jsonl.js";
import { readJsonl } from "./jsonl.js";
import type { ReadLinesOptions } from "./line-reader.js";
import { readParquet } from "./parquet-reader.js";
import type { ReadOptions } from "./read-options.js";
import { createReadStats } from "./read-options.js";

/** A record file format. */
export type RecordFormat = "jsonl" | "json" | "parquet";

/** Options of {@link readRecords}. */
export interface ReadRecordsOptions extends ReadOptions {
  /** Overrides the format chosen from the file extension. */
  format?: RecordFormat;
}

/**
 * The format of a file from its extension: `.jsonl`/`.ndjson`, `.json`,
 * `.parquet`. Throws a {@link DataFormatError} for any other extension.
 */
export function recordFormatOf(path: string): RecordFormat {
  const extension = extname(path).toLowerCase();
  if (extension === ".jsonl" || extension === ".ndjson") return "jsonl";
  if (extension === ".json") return "json";
  if (extension === ".parquet") return "parquet";
  throw new DataFormatError(
    { file: path },
    `unknown record format '${extension || "(no extension)"}': expected .jsonl, .ndjson, .json or .parquet (or pass format)`,
  );
}

/** The records of a file without counting `stats.yielded` (for readers that yield something else). */
export function iterateRecords(path: string, options: ReadRecordsOptions = {}): AsyncGenerator<SourceRecord> {
  const format = options.format ?? recordFormatOf(path);
  if (format === "jsonl") return readJsonl(path, options);
  if (format === "json") return readJsonArray(path, options);
  return readParquet(path, options);
}

/**
 * The records of a file that is JSONL unless its extension says otherwise (`.json`: a JSON list,
 * `.parquet`), for the step-labelled readers: their files are JSONL by convention (any extension),
 * while exports of the same rows as a list or as Parquet are read by extension. `options.format` wins.
 */
export function iterateRecordsOrJsonl(
  path: string,
  options: ReadRecordsOptions & ReadLinesOptions = {},
): AsyncGenerator<SourceRecord> {
  const extension = extname(path).toLowerCase();
  const format =
    options.format ?? (extension === ".json" ? "json" : extension === ".parquet" ? "parquet" : "jsonl");
  return iterateRecords(path, { ...options, format });
}

/**
 * Streams the records of a JSONL, JSON-array or Parquet file (chosen by extension, or
 * `options.format`), each with its 1-based line/record/row number for error messages. Errors as
 * in {@link readJsonl}, {@link readJsonArray} and {@link readParquet}.
 */
export async function* readRecords(
  path: string,
  options: ReadRecordsOptions = {},
): AsyncGenerator<SourceRecord> {
  const stats = options.stats ?? createReadStats();
  for await (const record of iterateRecords(path, { ...options, stats })) {
    stats.yielded += 1;
    yield record;
  }
}
