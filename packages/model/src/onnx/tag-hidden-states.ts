import type { LabeledTrajectory } from "@pqm/core";
import type { RowRejection } from "../tokenizer/trajectory-encoder.js";
import type { OnnxPrmScorer } from "./onnx-prm-scorer.js";

/** One labeled trajectory's features: the final hidden state at each step tag. */
export interface TagFeatureRow {
  /** Index of the trajectory in the input list. */
  sourceIndex: number;
  /** Question id, for splitting by question. */
  questionId: string;
  /** `[steps, hidden]` row-major. */
  hidden: Float32Array;
  /** Hard labels (0/1) per step. */
  hardLabels: readonly number[];
  /** Soft labels per step, when the trajectory has them. */
  softLabels: readonly number[] | null;
}

/** Hidden states at the step tags of a labeled dataset (see {@link extractTagHiddenStates}). */
export interface TagHiddenStates {
  hiddenSize: number;
  /** In input order (rejected trajectories left out). */
  rows: TagFeatureRow[];
  /** Trajectories the encoder refused (no steps, too long...), with the reason. */
  rejected: RowRejection[];
}

/** Progress of {@link extractTagHiddenStates}: rows run through the backbone so far, of `total`. */
export interface TagHiddenStatesProgress {
  done: number;
  total: number;
}

/** Options of {@link extractTagHiddenStates}. */
export interface ExtractTagHiddenStatesOptions {
  /** Told after every batch how many rows are done (nothing is printed). */
  onProgress?: (progress: TagHiddenStatesProgress) => void;
}

/**
 * Runs the frozen backbone of an ONNX scorer once over a labeled dataset and keeps the final hidden state
 * at every step tag: the only input a value head reads, so a head can then be trained on these features
 * alone (`trainValueHeadOnFeatures`) at no further backbone cost. Trajectories the encoder refuses are
 * listed in `rejected`, not thrown.
 * @throws OnnxExportError when ONNX Runtime fails.
 */
export async function extractTagHiddenStates(
  scorer: OnnxPrmScorer,
  trajectories: readonly LabeledTrajectory[],
  options: ExtractTagHiddenStatesOptions = {},
): Promise<TagHiddenStates> {
  const summary = scorer.encoder.encodeAll(trajectories);
  const { onProgress } = options;
  const progress =
    onProgress === undefined ? undefined : (done: number, total: number) => onProgress({ done, total });
  const extracted = await scorer.tagHiddenStates(summary.rows, progress);
  let hiddenSize = 0;
  const rows: TagFeatureRow[] = extracted.map(({ row, hidden }) => {
    const trajectory = trajectories[row.sourceIndex] as LabeledTrajectory;
    hiddenSize = hidden.length / row.tagPositions.length;
    return {
      sourceIndex: row.sourceIndex,
      questionId: trajectory.question.id,
      hidden,
      hardLabels: row.hardLabels ?? trajectory.hardLabels,
      softLabels: row.softLabels,
    };
  });
  rows.sort((a, b) => a.sourceIndex - b.sourceIndex);
  return { hiddenSize, rows, rejected: summary.rejected };
}
