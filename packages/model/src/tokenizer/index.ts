// The public API of the tokenizer area: Hugging Face and built-in tokenizers, step tags, prompt
// templates and the trajectory encoder (text to token ids with the tag positions).
export type {
  BuiltinTokenizerMode,
  BuiltinTokenizerOptions,
  BuiltinTokenizerSpec,
  CharTokenizerOptions,
  WordTokenizerOptions,
} from "./builtin-tokenizer.js";
export {
  BUILTIN_SPECIAL_TOKENS,
  BuiltinTokenizer,
  buildCharTokenizer,
  buildWordTokenizer,
  DEFAULT_CHAR_ALPHABET,
  DEFAULT_STEP_TAG,
} from "./builtin-tokenizer.js";
export type { HubFolderResolver, LoadTokenizerOptions } from "./hf-tokenizer.js";
export { HfTokenizer, loadTokenizer } from "./hf-tokenizer.js";
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
