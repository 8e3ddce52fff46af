// The public API of the export area: a pqm PRM as a Hugging Face token-classification model that
// transformers and vLLM's pooling runner load. The streaming safetensors copy is internal.
export type {
  HfExportTarget,
  HfTokenClassificationExport,
  HfTokenClassificationExportOptions,
  HfTokenClassificationInfo,
} from "./hf-token-classification.js";
export {
  exportHuggingFaceTokenClassification,
  HF_EXPORT_INFO_FILE,
  HF_TOKEN_CLASSIFICATION_ARCHITECTURES,
  HF_TOKEN_CLASSIFICATION_FORMAT,
  vllmServeCommand,
} from "./hf-token-classification.js";
