import type { JsonValue } from "@pqm/core";
import type { Float32TensorData } from "../backbone/safetensors/write-safetensors.js";
import type { BatcherState } from "../batching/length-batcher.js";
import type { StepTag } from "../tokenizer/step-tag.js";
import type { EncodingSpec } from "../tokenizer/trajectory-encoder.js";

/** File names inside a checkpoint folder. */
export const CHECKPOINT_FILES = {
  config: "config.json",
  weights: "model.safetensors",
  pqm: "pqm.json",
  trainingStateFolder: "training-state",
  optimizer: "training-state/optimizer.safetensors",
  trainingState: "training-state/state.json",
} as const;

/** Value of `pqm.json`'s `format` field. */
export const PQM_CHECKPOINT_FORMAT = "pqm-prm/1";

/**
 * `pqm.json`: what a checkpoint needs beyond a Hugging Face folder to score exactly as it was trained:
 * the loss and its margin, the step tag, the prompt encoding, the training configuration, versions.
 */
export interface PqmMetadata {
  format: typeof PQM_CHECKPOINT_FORMAT;
  /** Loss the model was trained with (`pqm`, `bce`...), or null for an untrained model. */
  loss: string | null;
  /** The PQM margin zeta, or null when the loss has none. */
  zeta: number | null;
  /** The step tag text and id. */
  stepTag: StepTag;
  /** The encoding spec (template, step format, tag, BOS, vocabulary size): `TrajectoryEncoder.spec`. */
  encoding: EncodingSpec;
  /** Optimizer steps done when saved (0 for an untrained model). */
  step: number;
  /** The training configuration as data, or null. */
  training: { [key: string]: JsonValue } | null;
  /** Versions of what wrote the checkpoint. */
  versions: { "@pqm/model": string; "@tensorflow/tfjs-core": string; node: string };
  /** ISO time of the save. */
  savedAt: string;
  /**
   * Size and SHA-256 of every other file of the checkpoint (relative path -> record), written with it and
   * checked by `loadCheckpoint`. Absent in checkpoints saved before records existed.
   */
  files?: { [relativePath: string]: CheckpointFileRecord };
}

/** What `pqm.json` records about one file of its checkpoint. */
export interface CheckpointFileRecord {
  /** Size in bytes. */
  bytes: number;
  /** SHA-256 of the contents, lowercase hex. */
  sha256: string;
}

/** `training-state/state.json`: the loop's position, with the optimizer step and the RNG. */
export interface TrainingStateJson {
  version: 1;
  /** Optimizer steps done. */
  step: number;
  /** The AdamW update count (equal to `step` unless a step was skipped). */
  optimizerStep: number;
  /**
   * Randomness: every random draw (dropout masks; the batcher's shuffles) is derived from `seed` and the
   * position (`step`, micro-batch, epoch), so the seed and the position are the whole RNG state.
   */
  rng: { seed: number; scheme: "derived-from-step" };
  /** Where the batcher resumes. */
  batcher: BatcherState;
  /** Training seconds so far (summed over resumed runs). */
  elapsedSeconds: number;
  /** Tokens (padded) seen so far. */
  tokensSeen: number;
}

/** What a checkpoint holds to resume training: the loop's state and the optimizer's moments. */
export interface SavedTrainingState {
  state: TrainingStateJson;
  /** `<parameter>.exp_avg` / `<parameter>.exp_avg_sq` float32 tensors. */
  optimizerMoments: Map<string, Float32TensorData>;
}
