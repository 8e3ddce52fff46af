import { LABEL_PAD } from "@pqm/core";
import type { EncodedRow } from "../tokenizer/trajectory-encoder.js";

/** Which side padding goes on: right (default, as the reference) or left (for generation-style batches). */
export type PadSide = "left" | "right";

/** Options of {@link collateRows}. */
export interface CollateOptions {
  /** Id written at padded positions (masked out; see `defaultPadTokenId`). */
  padTokenId: number;
  /** Default `"right"`. */
  padSide?: PadSide;
}

/**
 * A padded batch as flat row-major arrays, ready to become tensors (`batchToTensors`). Padded token
 * positions have attention mask 0; padded step slots have step mask 0, tag position 0 (a valid index to
 * gather, ignored through the mask) and label `LABEL_PAD`.
 */
export interface PrmBatch {
  batchSize: number;
  /** Length of the longest row: the padded length. */
  sequenceLength: number;
  /** Most steps in a row: the padded step count. */
  maxSteps: number;
  /** `[batch, sequence]` token ids. */
  inputIds: Int32Array;
  /** `[batch, sequence]` 1 at real tokens, 0 at padding. */
  attentionMask: Int32Array;
  /** `[batch, sequence]` 0, 1, 2... from each row's first real token (so left padding does not shift positions); 0 at padding. */
  positionIds: Int32Array;
  /** `[batch, steps]` index of each step's tag in the padded row. */
  tagPositions: Int32Array;
  /** `[batch, steps]` 1 for a real step, 0 for padding. */
  stepMask: Int32Array;
  /** `[batch, steps]` hard labels, `LABEL_PAD` at padding; null when the rows are unlabeled. */
  labels: Int32Array | null;
  /**
   * `[batch, steps]` soft labels, `LABEL_PAD` at padding; null when no row has soft labels. A row without
   * soft labels in a batch where others have them contributes its hard labels.
   */
  softLabels: Float32Array | null;
  /** `sourceIndex` of each row, in batch order. */
  sourceIndices: number[];
}

/**
 * Pads encoded rows into one batch. Throws when `rows` is empty, or when some rows have labels and
 * others do not (a batch is either for training or for scoring).
 */
export function collateRows(rows: readonly EncodedRow[], options: CollateOptions): PrmBatch {
  if (rows.length === 0) throw new RangeError("cannot collate an empty batch");
  const padSide = options.padSide ?? "right";
  const labeled = rows.filter((row) => row.hardLabels !== null).length;
  if (labeled !== 0 && labeled !== rows.length) {
    throw new Error(
      `${labeled} of ${rows.length} rows have labels: a batch must be all labeled or all unlabeled`,
    );
  }
  const anySoft = rows.some((row) => row.softLabels !== null);
  const batchSize = rows.length;
  const sequenceLength = Math.max(...rows.map((row) => row.inputIds.length));
  const maxSteps = Math.max(...rows.map((row) => row.tagPositions.length));

  const inputIds = new Int32Array(batchSize * sequenceLength).fill(options.padTokenId);
  const attentionMask = new Int32Array(batchSize * sequenceLength);
  const positionIds = new Int32Array(batchSize * sequenceLength);
  const tagPositions = new Int32Array(batchSize * maxSteps);
  const stepMask = new Int32Array(batchSize * maxSteps);
  const labels = labeled > 0 ? new Int32Array(batchSize * maxSteps).fill(LABEL_PAD) : null;
  const softLabels = anySoft ? new Float32Array(batchSize * maxSteps).fill(LABEL_PAD) : null;

  rows.forEach((row, batchIndex) => {
    const length = row.inputIds.length;
    const offset = padSide === "left" ? sequenceLength - length : 0;
    const rowStart = batchIndex * sequenceLength + offset;
    inputIds.set(row.inputIds, rowStart);
    for (let position = 0; position < length; position++) {
      attentionMask[rowStart + position] = 1;
      positionIds[rowStart + position] = position;
    }
    const stepStart = batchIndex * maxSteps;
    row.tagPositions.forEach((position, step) => {
      tagPositions[stepStart + step] = position + offset;
      stepMask[stepStart + step] = 1;
      if (labels !== null) labels[stepStart + step] = row.hardLabels![step]!;
      if (softLabels !== null)
        softLabels[stepStart + step] = (row.softLabels ?? row.hardLabels)?.[step] ?? LABEL_PAD;
    });
  });
  return {
    batchSize,
    sequenceLength,
    maxSteps,
    inputIds,
    attentionMask,
    positionIds,
    tagPositions,
    stepMask,
    labels,
    softLabels,
    sourceIndices: rows.map((row) => row.sourceIndex),
  };
}
