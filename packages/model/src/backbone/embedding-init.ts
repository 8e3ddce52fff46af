/**
 * Mean of the first `rowCount` rows of a row-major embedding table `[rows, hiddenSize]`: the usual
 * starting point for a token the backbone never saw (the step tag), instead of a random row whose
 * scale does not match the trained ones. Accumulates in float64. Throws RangeError on a table whose
 * length is not a multiple of `hiddenSize` or a `rowCount` outside `1..rows`.
 */
export function meanEmbeddingRow(table: ArrayLike<number>, hiddenSize: number, rowCount?: number): number[] {
  const rows = tableRows(table, hiddenSize);
  const count = rowCount ?? rows;
  if (!Number.isInteger(count) || count < 1 || count > rows) {
    throw new RangeError(`rowCount ${count} is outside 1..${rows}`);
  }
  const sum = new Float64Array(hiddenSize);
  for (let row = 0; row < count; row++) {
    const offset = row * hiddenSize;
    for (let column = 0; column < hiddenSize; column++) sum[column]! += table[offset + column]!;
  }
  return Array.from(sum, (value) => value / count);
}

/** Options of {@link extendEmbeddingTable}. */
export interface ExtendEmbeddingOptions {
  /**
   * Average only the first this-many rows (default: all existing rows). Set it to the tokenizer's size
   * before the tag was added when the checkpoint pads its table with untrained rows (Qwen2 does).
   */
  meanOfRows?: number;
}

/**
 * Grows a row-major embedding table `[rows, hiddenSize]` to `[newRowCount, hiddenSize]`, filling every new
 * row with the mean of the existing ones. Returns a new Float32Array; the input is left as it is.
 * Throws RangeError when `newRowCount` is smaller than the current row count.
 */
export function extendEmbeddingTable(
  table: ArrayLike<number>,
  hiddenSize: number,
  newRowCount: number,
  options: ExtendEmbeddingOptions = {},
): Float32Array {
  const rows = tableRows(table, hiddenSize);
  if (!Number.isInteger(newRowCount) || newRowCount < rows) {
    throw new RangeError(`cannot shrink an embedding table of ${rows} rows to ${newRowCount}`);
  }
  const out = new Float32Array(newRowCount * hiddenSize);
  for (let index = 0; index < rows * hiddenSize; index++) out[index] = table[index]!;
  if (newRowCount > rows) {
    const mean = meanEmbeddingRow(table, hiddenSize, options.meanOfRows);
    for (let row = rows; row < newRowCount; row++) out.set(mean, row * hiddenSize);
  }
  return out;
}

function tableRows(table: ArrayLike<number>, hiddenSize: number): number {
  if (!Number.isInteger(hiddenSize) || hiddenSize < 1)
    throw new RangeError(`hiddenSize ${hiddenSize} must be a positive integer`);
  if (table.length % hiddenSize !== 0) {
    throw new RangeError(
      `an embedding table of ${table.length} values is not a whole number of rows of ${hiddenSize}`,
    );
  }
  return table.length / hiddenSize;
}

/**
 * Returns a copy of a row-major table `[rows, hiddenSize]` in which the given rows hold the mean of the
 * first `meanOfRows` rows (default: all rows not listed). For a tag whose id falls inside a table that
 * already has spare, untrained rows (Qwen2's table is larger than its vocabulary). Throws RangeError on
 * a row id outside the table.
 */
export function fillRowsWithMean(
  table: ArrayLike<number>,
  hiddenSize: number,
  rowIds: readonly number[],
  options: ExtendEmbeddingOptions = {},
): Float32Array {
  const rows = tableRows(table, hiddenSize);
  for (const row of rowIds) {
    if (!Number.isInteger(row) || row < 0 || row >= rows)
      throw new RangeError(`row ${row} is outside 0..${rows - 1}`);
  }
  const out = Float32Array.from(table);
  let mean: number[];
  if (options.meanOfRows !== undefined) {
    mean = meanEmbeddingRow(table, hiddenSize, options.meanOfRows);
  } else {
    // Mean over every row that is not being replaced, so the untrained rows do not pull it.
    const excluded = new Set(rowIds);
    const sum = new Float64Array(hiddenSize);
    let count = 0;
    for (let row = 0; row < rows; row++) {
      if (excluded.has(row)) continue;
      count++;
      for (let column = 0; column < hiddenSize; column++) sum[column]! += table[row * hiddenSize + column]!;
    }
    if (count === 0) throw new RangeError("no rows left to average");
    mean = Array.from(sum, (value) => value / count);
  }
  for (const row of rowIds) out.set(mean, row * hiddenSize);
  return out;
}
