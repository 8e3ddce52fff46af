// The ONNX area of @pqm/model: export a PRM or a backbone to ONNX (no Python), score with ONNX Runtime,
// and train a value head on a frozen backbone's hidden states.
export type { DecoderGraphOptions, ValueHeadWeights } from "./decoder-onnx-graph.js";
export {
  assertExportable,
  buildDecoderGraph,
  ONNX_EXPORTABLE_MODEL_TYPES,
  ONNX_IO_NAMES,
} from "./decoder-onnx-graph.js";
export type { OnnxExportOptions, OnnxExportResult } from "./export-onnx.js";
export {
  decoderOnnxBytes,
  exportBackboneToOnnx,
  exportPrmToOnnx,
  ONNX_EXPORT_OPSET,
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
export type { OnnxAttributeValue, OnnxModelInfo, OnnxTensorSpec } from "./onnx-graph-builder.js";
export { ONNX_PROTOBUF_LIMIT_BYTES, OnnxGraphBuilder } from "./onnx-graph-builder.js";
export type {
  OnnxPrmScorerFromModelOptions,
  OnnxPrmScorerLoadOptions,
  OnnxPrmScorerOptions,
} from "./onnx-prm-scorer.js";
export { OnnxPrmScorer } from "./onnx-prm-scorer.js";
export type { OnnxDataTypeCode } from "./onnx-schema.js";
export { decodeOnnxModel, OnnxDataType } from "./onnx-schema.js";
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
