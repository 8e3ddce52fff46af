import type { JsonValue } from "@pqm/core/reference";
import { writeFileAtomic } from "../atomic-write.js";
import type { ReadLinesOptions } from "./line-reader.js";
import { readLines } from "./line-reader.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";

/** A parsed record with where it came from. */
export interface SourceRecord {
  /** 1-based line (JSONL) or record/row number (JSON array, Parquet), for error messages. */
  line: number;
  record: JsonValue;
}

/**
 * Streams a JSONL file: one JSON value per line, blank lines ignored, bounded memory.
 *
 * Throws a {@link DataFormatError} naming file and line for malformed JSON (`invalid-json`),
 * invalid UTF-8 (`invalid-utf8`) and a file without any record (`empty-file`); with
 * `onError: "skip"` those are counted in `options.stats` instead.
 */
export async function* readJsonl(path: string, options: ReadLinesOptions = {}): AsyncGenerator<SourceRecord> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  let lines = 0;
  for await (const { line, text } of readLines(path, { ...options, stats, keepBlank: false })) {
    lines += 1;
    let record: JsonValue;
    try {
      record = JSON.parse(text) as JsonValue;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      handleItemError(
        new ItemError({ file: path, line }, "invalid-json", `invalid JSON: ${reason}`, { cause: error }),
        onError,
        stats,
      );
      continue;
    }
    yield { line, record };
  }
  if (lines === 0 && stats.skipped === 0) {
    handleItemError(new ItemError({ file: path }, "empty-file", "empty file: no JSON lines"), onError, stats);
  }
}

/** Options of {@link writeJsonl} and the other writers of this area. */
export interface WriteOptions {
  /**
   * Escape every non-ASCII character as `\uXXXX`, as Python's `json.dumps` does by default, so
   * files written here diff cleanly against the originals. Default false (UTF-8 text).
   */
  asciiOnly?: boolean;
}

const NON_ASCII = /[\u007f-\uffff]/g;

/** One JSON value as one line of JSONL (no line break), optionally ASCII-only. */
export function formatJsonLine(value: unknown, options: WriteOptions = {}): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError("value is not JSON-serialisable");
  if (!options.asciiOnly) return text;
  return text.replace(NON_ASCII, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Writes values to `path` as JSONL with back-pressure (memory stays bounded for any input size),
 * through a temporary file renamed into place, so a crash never leaves a half-written file under
 * the final name. Returns the number of lines written.
 */
export async function writeJsonl(
  path: string,
  values: Iterable<unknown> | AsyncIterable<unknown>,
  options: WriteOptions = {},
): Promise<number> {
  return writeLinesAtomically(path, values, (value) => `${formatJsonLine(value, options)}\n`);
}

/** Rendered values are written in chunks of about this many characters. */
const WRITE_CHUNK_CHARS = 1 << 16;

/**
 * Writes `render(value)` for each value to `path` atomically (`writeFileAtomic`: a temporary sibling,
 * fsynced, then renamed), streaming; `header` and `footer` (for JSON arrays) go around them. Returns
 * the number of values written.
 */
export async function writeLinesAtomically<T>(
  path: string,
  values: Iterable<T> | AsyncIterable<T>,
  render: (value: T, index: number) => string,
  framing: { header?: string; footer?: string } = {},
): Promise<number> {
  let count = 0;
  async function* chunks(): AsyncGenerator<string> {
    let pending = framing.header ?? "";
    for await (const value of values) {
      pending += render(value, count);
      count += 1;
      if (pending.length >= WRITE_CHUNK_CHARS) {
        yield pending;
        pending = "";
      }
    }
    pending += framing.footer ?? "";
    if (pending !== "") yield pending;
  }
  await writeFileAtomic(path, chunks());
  return count;
}
