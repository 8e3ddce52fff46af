import type { JsonValue } from "@pqm/core";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DataFormatError } from "../errors.js";
import type { SourceRecord } from "./jsonl.js";
import type { ReadOptions } from "./read-options.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";

/**
 * A Parquet cell as JSON: INT64 (`bigint`) becomes a number when it is a safe integer and a
 * decimal string otherwise, so no digit is lost; dates become ISO strings; binary and typed arrays
 * become arrays of numbers.
 */
function toJsonValue(value: unknown): JsonValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (ArrayBuffer.isView(value))
    return Array.from(value as unknown as ArrayLike<number | bigint>, toJsonValue);
  if (typeof value === "object") {
    const result: { [key: string]: JsonValue } = {};
    for (const [key, entry] of Object.entries(value)) {
      if (entry !== undefined) result[key] = toJsonValue(entry);
    }
    return result;
  }
  return String(value);
}

/**
 * Streams the rows of a Parquet file as plain JSON objects, one row group at a time (memory holds
 * one row group), decompressing every codec hyparquet-compressors knows (Snappy, gzip, Brotli,
 * LZ4, Zstandard). `line` is the 1-based row number.
 *
 * Throws a {@link DataFormatError} naming the file when it is not a readable Parquet file, and for
 * a file without rows (`empty-file`; counted instead with `onError: "skip"`).
 */
export async function* readParquet(path: string, options: ReadOptions = {}): AsyncGenerator<SourceRecord> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  const file = await asyncBufferFromFile(path);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataFormatError({ file: path }, `not a readable Parquet file: ${reason}`, { cause: error });
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd, compressors });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new DataFormatError({ file: path, line: rowStart + 1 }, `cannot decode Parquet rows: ${reason}`, {
        cause: error,
      });
    }
    for (let offset = 0; offset < rows.length; offset += 1) {
      stats.seen += 1;
      yield { line: rowStart + offset + 1, record: toJsonValue(rows[offset]) };
    }
    rowStart = rowEnd;
  }
  if (rowStart === 0) {
    handleItemError(
      new ItemError({ file: path }, "empty-file", "empty file: no Parquet rows"),
      onError,
      stats,
    );
  }
}
