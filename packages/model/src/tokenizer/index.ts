// The tokenizer area of @pqm/model: tokenizers, step tags, prompt templates, encoding and batching.

export type { PrmBatchTensors } from "./batch-tensors.js";
export { batchToTensors } from "./batch-tensors.js";
export type {
  BuiltinTokenizerMode,
  BuiltinTokenizerOptions,
  BuiltinTokenizerSpec,
  CharTokenizerOptions,
  WordTokenizerOptions,
} from "./builtin-tokenizer.js";
export {
  BUILTIN_CONFIG_KEY,
  BUILTIN_SPECIAL_TOKENS,
  BuiltinTokenizer,
  buildCharTokenizer,
  buildWordTokenizer,
  CHAR_PRETOKENIZER_PATTERN,
  DEFAULT_CHAR_ALPHABET,
  DEFAULT_STEP_TAG,
  WORD_PRETOKENIZER_PATTERN,
} from "./builtin-tokenizer.js";
export type { CollateOptions, PadSide, PrmBatch } from "./collate-rows.js";
export { collateRows } from "./collate-rows.js";
export type { ExtendEmbeddingOptions } from "./embedding-init.js";
export { extendEmbeddingTable, fillRowsWithMean, meanEmbeddingRow } from "./embedding-init.js";
export type { HubFolderResolver, LoadTokenizerOptions } from "./hf-tokenizer.js";
export { HfTokenizer, loadTokenizer, TOKENIZER_FILES } from "./hf-tokenizer.js";
export type { BatcherOptions, BatcherState, BatchStep, LengthBucket } from "./length-batcher.js";
export { LengthBucketedBatcher, REFERENCE_BUCKETS } from "./length-batcher.js";
export type {
  AddedSpecialToken,
  ChatMessage,
  DetokenizeOptions,
  PrmTokenizer,
  TokenizeOptions,
} from "./prm-tokenizer.js";
export { defaultPadTokenId } from "./prm-tokenizer.js";
export type { PromptTemplate, RenderedPrompt, StepFormat, TemplateLayout } from "./prompt-templates.js";
export {
  DEFAULT_STEP_FORMAT,
  definePromptTemplate,
  formatSteps,
  PROMPT_TEMPLATES,
  promptTemplateNames,
  renderPrompt,
  resolvePromptTemplate,
} from "./prompt-templates.js";
export type { AddedStepTag, ExistingStepTag, StepTag } from "./step-tag.js";
export { addStepTagToken, useExistingStepTag } from "./step-tag.js";
export { EncodingMismatchError, StepTagError, TokenizerLoadError } from "./tokenizer-errors.js";
export type {
  EncodedRow,
  EncodeOutcome,
  EncodeSummary,
  EncodingSpec,
  OverflowPolicy,
  RejectionReason,
  RowRejection,
  TrajectoryEncoderOptions,
} from "./trajectory-encoder.js";
export { checkEncodingSpec, TrajectoryEncoder } from "./trajectory-encoder.js";
