import type { DataLocation } from "../errors.js";
import { DataFormatError } from "../errors.js";

/** What a reader does with malformed input (bad JSON, missing field, wrong type, invalid UTF-8). */
export type OnError = "throw" | "skip";

/**
 * Counts kept by a reader while it streams: pass one in `options.stats` and read it during or
 * after the iteration (an async generator cannot return a summary to a `for await` loop).
 */
export interface ReadStats {
  /** Physical lines (JSONL) or records (JSON, Parquet) looked at, blank lines included. */
  seen: number;
  /** Items yielded to the caller. */
  yielded: number;
  /** Items not yielded, all reasons together. */
  skipped: number;
  /** Items not yielded, per reason (`"too-few-chunks"`, `"invalid-json"`...). */
  skippedByReason: Record<string, number>;
  /** Blank lines passed over in line formats (not counted as skips). */
  blankLines: number;
  /** The first few skips with their location and message, for a report (at most 20 kept). */
  examples: { line: number | undefined; reason: string; message: string }[];
}

/** A fresh, zeroed {@link ReadStats}. */
export function createReadStats(): ReadStats {
  return { seen: 0, yielded: 0, skipped: 0, skippedByReason: {}, blankLines: 0, examples: [] };
}

/** Options shared by every streaming reader of this area. */
export interface ReadOptions {
  /** `"throw"` (default): malformed input raises a {@link DataFormatError}; `"skip"`: counted in `stats`. */
  onError?: OnError;
  /** Updated in place while reading. */
  stats?: ReadStats;
}

const MAX_EXAMPLES = 20;

/** Records a skip in `stats` under `reason`. */
export function recordSkip(
  stats: ReadStats,
  reason: string,
  line: number | undefined,
  message: string,
): void {
  stats.skipped += 1;
  stats.skippedByReason[reason] = (stats.skippedByReason[reason] ?? 0) + 1;
  if (stats.examples.length < MAX_EXAMPLES) stats.examples.push({ line, reason, message });
}

/**
 * Raised inside a reader for one bad item; the reader either rethrows it (as a
 * {@link DataFormatError}) or counts it as a skip under `reason`.
 */
export class ItemError extends DataFormatError {
  /** Short machine-readable cause, the key in `ReadStats.skippedByReason`. */
  readonly skipReason: string;

  constructor(location: DataLocation, skipReason: string, message: string, options?: { cause?: unknown }) {
    super(location, message, options);
    this.name = "DataFormatError";
    this.skipReason = skipReason;
  }
}

/**
 * Applies the `onError` policy to an error thrown while converting one item: rethrows it when
 * `onError` is `"throw"` or when it is not a data error, otherwise counts it and returns.
 */
export function handleItemError(error: unknown, onError: OnError, stats: ReadStats): void {
  if (!(error instanceof DataFormatError) || onError === "throw") throw error;
  const reason = error instanceof ItemError ? error.skipReason : "invalid-record";
  recordSkip(stats, reason, error.line, error.message);
}
