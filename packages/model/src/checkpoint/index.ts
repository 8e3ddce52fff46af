// The public API of the checkpoint area: Hugging Face-style PRM folders, written atomically and
// readable by TRL, and the metadata and training state they carry.
export type {
  CheckpointFileRecord,
  PqmMetadata,
  SavedTrainingState,
  TrainingStateJson,
} from "./checkpoint-format.js";
export { CHECKPOINT_FILES, PQM_CHECKPOINT_FORMAT } from "./checkpoint-format.js";
export type { LoadCheckpointOptions, LoadedCheckpoint } from "./load-checkpoint.js";
export { loadCheckpoint, readPqmMetadata, readTrainingState } from "./load-checkpoint.js";
export type { SaveCheckpointOptions } from "./save-checkpoint.js";
export { saveCheckpoint } from "./save-checkpoint.js";
export {
  CheckpointIntegrityError,
  checkpointFolderStep,
  verifyCheckpointFiles,
} from "./verify-checkpoint.js";
