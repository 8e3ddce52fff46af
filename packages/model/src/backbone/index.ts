// The public API of the backbone area (re-exported by src/index.ts), including the backend area.
export * from "../backend/index.js";
export type { DecoderConfigJson } from "./create-random-decoder.js";
export { createRandomDecoder } from "./create-random-decoder.js";
export type {
  DecoderBuildOptions,
  DecoderInputs,
  DecoderOutput,
  LayerTrace,
  LoraOptions,
  LoraTargetModule,
  TrainingMode,
  WeightSource,
} from "./decoder-backbone.js";
export { DecoderBackbone, LORA_TARGET_MODULES } from "./decoder-backbone.js";
export type { DecoderConfig, RopeScaling } from "./decoder-config.js";
export { additiveAttentionMask, FLOAT32_MOST_NEGATIVE } from "./layers/attention-mask.js";
export { embeddingLookup } from "./layers/embedding-lookup.js";
export type { LoraAdapter } from "./layers/linear-layer.js";
export { LinearLayer } from "./layers/linear-layer.js";
export { rmsNorm } from "./layers/rms-norm.js";
export { applyRotaryEmbedding, ropeCosSin, ropeInverseFrequencies } from "./layers/rotary-embedding.js";
export type { LoadPretrainedOptions } from "./load-pretrained.js";
export { loadPretrained, readDecoderConfig } from "./load-pretrained.js";
export type { ActivationShape, MemoryEstimate } from "./memory-estimate.js";
export {
  assertFitsMemory,
  backendMemoryLimitBytes,
  countLoraParameters,
  countParameters,
  estimateMemory,
  formatGiB,
  MemoryLimitError,
  WASM_MEMORY_LIMIT_BYTES,
} from "./memory-estimate.js";
export { ModelLoadError } from "./model-load-error.js";
export { knownModelTypes, resolveDecoderConfig } from "./model-registry.js";
export { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./safetensors/half-float.js";
export type { SafetensorsDtype, SafetensorsEntry } from "./safetensors/read-safetensors.js";
export {
  openSafetensorsCheckpoint,
  parseSafetensors,
  readSafetensorsFile,
  SafetensorsCheckpoint,
  SafetensorsFile,
} from "./safetensors/read-safetensors.js";
export type { Float32TensorData } from "./safetensors/write-safetensors.js";
export { serializeSafetensors, writeSafetensors } from "./safetensors/write-safetensors.js";
export type { DecoderSizePreset } from "./size-presets.js";
export { decoderSizePresets, presetDecoderConfig } from "./size-presets.js";
