// The public API of the conventions area: the scoring conventions of published PRMs (names, detection
// from a Hugging Face folder, text rendering for servers that tokenize themselves) and scorers that load
// such a folder and give one log-odds value per step. Layout helpers and weight-name resolution are internal.
export type { ConventionEncoding } from "./anchored-encoding.js";
export { ConventionEncodingError } from "./anchored-encoding.js";
export { getScoringConvention } from "./convention-catalog.js";
export type { ConventionEncoder, ConventionEncoderOptions } from "./convention-encoder.js";
export { createConventionEncoder } from "./convention-encoder.js";
export type { ConventionModel, LoadConventionModelOptions } from "./convention-model.js";
export { loadConventionModel } from "./convention-model.js";
export type {
  ConventionRuntime,
  ConventionScorer,
  LoadConventionScorerOptions,
} from "./convention-scorer.js";
export { loadConventionScorer } from "./convention-scorer.js";
export type { ConventionDetection } from "./detect-convention.js";
export {
  detectScoringConvention,
  detectScoringConventionWithReason,
  scoringConventionForFolder,
} from "./detect-convention.js";
export type { PqmExportFormat } from "./pqm-export.js";
export { loadPqmExportConvention, pqmExportConvention, readPqmExportFormat } from "./pqm-export.js";
export type {
  PoolingReadout,
  RenderTextOptions,
  ScoringConvention,
  ScoringConventionName,
} from "./scoring-convention.js";
export { isScoringConventionName, scoringConventionNames } from "./scoring-convention.js";
