import type { JsonValue } from "@pqm/core/reference";
import type { AsyncBuffer, ColumnChunk, RowGroup } from "hyparquet";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
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
 * Checks the page headers of one column chunk before hyparquet decodes it: the chunk lies inside the
 * file, every page fits in the chunk, and the pages hold exactly the chunk's values, at least one per
 * row of the group. hyparquet trusts these counts, so a corrupt one (a flipped byte in a page header
 * claiming two billion values) would make it loop or allocate for minutes instead of failing.
 * Throws a {@link DataFormatError} naming the first row of the group, the column and the byte offset.
 */
async function checkColumnChunk(
  file: AsyncBuffer,
  path: string,
  group: RowGroup,
  chunk: ColumnChunk,
  firstRow: number,
): Promise<void> {
  const meta = chunk.meta_data;
  const column = meta?.path_in_schema.join(".") ?? "?";
  const fail = (reason: string): never => {
    throw new DataFormatError({ file: path, line: firstRow, field: column }, reason);
  };
  if (meta === undefined) return fail("column chunk without metadata");
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  const size = Number(meta.total_compressed_size);
  const values = Number(meta.num_values);
  if (!(Number.isSafeInteger(start) && start >= 0 && Number.isSafeInteger(size) && size >= 0)) {
    return fail(`column chunk at byte ${start} of ${size} bytes is not a valid range`);
  }
  if (start + size > file.byteLength) {
    return fail(
      `column chunk at byte ${start} of ${size} bytes ends past the end of the file (${file.byteLength} bytes)`,
    );
  }
  if (!(Number.isSafeInteger(values) && values >= Number(group.num_rows))) {
    return fail(`column chunk at byte ${start} holds ${values} values for ${group.num_rows} rows`);
  }
  const bytes = await file.slice(start, start + size);
  const reader = { view: new DataView(bytes), offset: 0 };
  let seen = 0;
  while (seen < values) {
    const at = start + reader.offset;
    if (reader.offset >= size)
      return fail(`column chunk at byte ${start} ends after ${seen} of its ${values} values`);
    let header: ReturnType<typeof parquetHeader>;
    try {
      header = parquetHeader(reader);
    } catch (error) {
      return fail(
        `page header at byte ${at} cannot be read: ${error instanceof Error ? error.message : error}`,
      );
    }
    const pageSize = header.compressed_page_size;
    if (!(Number.isSafeInteger(pageSize) && pageSize >= 0 && reader.offset + pageSize <= size)) {
      return fail(
        `page at byte ${at}: compressed size ${pageSize} does not fit in the ${size - reader.offset} bytes left in its column chunk`,
      );
    }
    if (!(Number.isSafeInteger(header.uncompressed_page_size) && header.uncompressed_page_size >= 0)) {
      return fail(`page at byte ${at}: uncompressed size ${header.uncompressed_page_size} is not valid`);
    }
    const data = header.data_page_header ?? header.data_page_header_v2;
    if (header.type === "DATA_PAGE" || header.type === "DATA_PAGE_V2") {
      const count = data?.num_values;
      if (count === undefined || !(Number.isSafeInteger(count) && count >= 0 && seen + count <= values)) {
        return fail(
          `page at byte ${at} holds ${count} values, more than the ${values - seen} left in its column chunk`,
        );
      }
      const v2 = header.data_page_header_v2;
      if (v2 !== undefined) {
        const levels = v2.definition_levels_byte_length + v2.repetition_levels_byte_length;
        if (!(levels >= 0 && levels <= pageSize && v2.num_nulls >= 0 && v2.num_nulls <= count)) {
          return fail(`page at byte ${at}: level lengths or null count do not fit the page`);
        }
      }
      seen += count;
    } else if (header.type === "DICTIONARY_PAGE") {
      const count = header.dictionary_page_header?.num_values;
      if (
        count === undefined ||
        !(Number.isSafeInteger(count) && count >= 0 && count <= header.uncompressed_page_size)
      ) {
        return fail(
          `dictionary page at byte ${at} holds ${count} entries in ${header.uncompressed_page_size} bytes`,
        );
      }
    }
    reader.offset += pageSize;
  }
}

/**
 * Streams the rows of a Parquet file as plain JSON objects, one row group at a time (memory holds
 * one row group), decompressing every codec hyparquet-compressors knows (Snappy, gzip, Brotli,
 * LZ4, Zstandard). `line` is the 1-based row number.
 *
 * Throws a {@link DataFormatError} naming the file when it is not a readable Parquet file; naming
 * the first row of a row group, the column and the byte offset when a page header is inconsistent
 * with its column chunk (checked before decoding, see `checkColumnChunk`); and for a file without
 * rows (`empty-file`; counted instead with `onError: "skip"`).
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
    for (const chunk of group.columns) await checkColumnChunk(file, path, group, chunk, rowStart + 1);
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
