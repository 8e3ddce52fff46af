// The public API of the ONNX area: export a PRM or a backbone to ONNX (no Python), score with ONNX
// Runtime, train a value head on a frozen backbone's hidden states, and run a decoder's training pass
// (forward and backward) on ONNX Runtime. The graph builders, the protobuf schema and the ONNX Runtime
// matrix-product kernel for TF.js's wasm backend are internal.
export type { ValueHeadWeights } from "./decoder-onnx-graph.js";
export { ONNX_EXPORTABLE_MODEL_TYPES } from "./decoder-onnx-graph.js";
export type {
  OnnxExportDtype,
  OnnxExportOptions,
  OnnxExportResult,
  OnnxFileExportOptions,
} from "./export-onnx.js";
export {
  decoderOnnxBytes,
  exportBackboneToOnnx,
  exportPrmToOnnx,
  ONNX_EXPORT_OPSET,
  ONNX_EXTERNAL_DATA_DEFAULT_THRESHOLD,
  ONNX_MODEL_FILE,
  PQM_ONNX_FORMAT,
  valueHeadWeights,
} from "./export-onnx.js";
export type {
  DecoderOutputName,
  OnnxOutput,
  OnnxSessionOptions,
  TokenBatch,
} from "./onnx-decoder-session.js";
export { OnnxDecoderSession } from "./onnx-decoder-session.js";
export { OnnxExportError } from "./onnx-export-error.js";
export type {
  OnnxPrmScorerFromModelOptions,
  OnnxPrmScorerLoadOptions,
  OnnxPrmScorerOptions,
} from "./onnx-prm-scorer.js";
export { OnnxPrmScorer } from "./onnx-prm-scorer.js";
export type {
  OnnxForwardPass,
  OnnxStepInputs,
  OnnxStepResult,
  OnnxTrainerInputs,
  OnnxTrainerOptions,
} from "./onnx-training-step.js";
export { OnnxDecoderTrainer } from "./onnx-training-step.js";
export type {
  ExtractTagHiddenStatesOptions,
  TagFeatureRow,
  TagHiddenStates,
  TagHiddenStatesProgress,
} from "./tag-hidden-states.js";
export { extractTagHiddenStates } from "./tag-hidden-states.js";
export type {
  FeatureHeadTrainingOptions,
  FeatureHeadTrainingResult,
} from "./train-value-head-on-features.js";
export { trainValueHeadOnFeatures } from "./train-value-head-on-features.js";
