// How a command reports the rows a reader skipped (pqm train, pqm annotate).

/** Rows of a data file that were read, and those skipped (by reason), as the commands report them. */
export interface SkippedRows {
  /** Rows (JSONL lines, list elements, Parquet rows) looked at, blank lines not counted. */
  rows: number;
  skipped: number;
  skippedByReason: Record<string, number>;
}

/** `3 of 200 rows skipped (1.5%: label-tag-mismatch 2, too-few-chunks 1)`. */
export function describeSkipped(counts: SkippedRows): string {
  const share = counts.rows === 0 ? 0 : counts.skipped / counts.rows;
  const reasons = Object.entries(counts.skippedByReason)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(", ");
  return `${counts.skipped} of ${counts.rows} rows skipped (${(100 * share).toFixed(1)}%${reasons ? `: ${reasons}` : ""})`;
}
