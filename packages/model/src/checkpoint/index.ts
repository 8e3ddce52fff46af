// The checkpoint area of @pqm/model: Hugging Face-style PRM folders, written atomically, TRL-compatible.
export type { AtomicFolderOptions, FolderWriter } from "./atomic-folder.js";
export { findInterruptedSwap, writeFolderAtomically } from "./atomic-folder.js";
export type { PqmMetadata, SavedTrainingState, TrainingStateJson } from "./checkpoint-format.js";
export { CHECKPOINT_FILES, PQM_CHECKPOINT_FORMAT } from "./checkpoint-format.js";
export type { LoadCheckpointOptions, LoadedCheckpoint } from "./load-checkpoint.js";
export { loadCheckpoint, readPqmMetadata, readTrainingState } from "./load-checkpoint.js";
export { MODEL_PACKAGE_VERSION } from "./package-version.js";
export type { SaveCheckpointOptions } from "./save-checkpoint.js";
export { saveCheckpoint } from "./save-checkpoint.js";
export type { CheckpointWeightSourceOptions } from "./weight-source.js";
export { backbonePrefix, checkpointWeightSource, TRL_BACKBONE_PREFIX } from "./weight-source.js";
