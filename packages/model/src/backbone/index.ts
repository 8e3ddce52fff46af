// The public API of the backbone area: decoder backbones loaded from safetensors or created at random,
// size presets, memory estimates, step-tag embedding rows and safetensors files.
// Layers and weight-layout helpers are internal.
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
export type { ExtendEmbeddingOptions } from "./embedding-init.js";
export { extendEmbeddingTable, fillRowsWithMean } from "./embedding-init.js";
export type { LoadPretrainedOptions } from "./load-pretrained.js";
export { loadPretrained, readDecoderConfig } from "./load-pretrained.js";
export type { ActivationShape, MemoryEstimate } from "./memory-estimate.js";
export { countParameters, estimateMemory, MemoryLimitError } from "./memory-estimate.js";
export { ModelLoadError } from "./model-load-error.js";
export { knownModelTypes, resolveDecoderConfig } from "./model-registry.js";
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
