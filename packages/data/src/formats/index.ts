// Data formats and loaders: streaming record readers, Math-Shepherd, soft labels, PRM800K,
// ProcessBench, test sets and best-of-n candidate files.

export type {
  AlignmentMismatch,
  AlignmentReport,
  CandidateAnnotations,
  CandidateResponse,
  CandidateSet,
  LoadCandidatesOptions,
  ReadCandidatesOptions,
} from "./candidates.js";
export {
  candidateTrajectories,
  loadCandidates,
  normalizeQuestionText,
  parseCandidateSet,
  readCandidates,
  writeCandidates,
} from "./candidates.js";
export type { SourceRecord, WriteOptions } from "./jsonl.js";
export { formatJsonLine, readJsonl, writeJsonl } from "./jsonl.js";
export type { LabeledFormat, ReadLabeledOptions } from "./labeled-sources.js";
export {
  detectLabeledFormat,
  labeledFormatOfRecord,
  labeledFormats,
  parseTrajectoryRecord,
  readLabeledTrajectories,
} from "./labeled-sources.js";
export type { ReadLinesOptions } from "./line-reader.js";
export type { MathShepherdReadOptions, MathShepherdRow, MathShepherdSkipReason } from "./math-shepherd.js";
export {
  MATH_SHEPHERD_SKIP_REASONS,
  MATH_SHEPHERD_STEP_TAG,
  parseMathShepherdRow,
  readMathShepherd,
  toMathShepherdRow,
  validateMathShepherdRecord,
  writeMathShepherd,
} from "./math-shepherd.js";
export type { Prm800kOptions, Prm800kSkipReason } from "./prm800k.js";
export { parsePrm800kRow, readPrm800k } from "./prm800k.js";
export { parseProcessBenchItem, readProcessBench } from "./processbench.js";
export type { OnError, ReadOptions, ReadStats } from "./read-options.js";
export { createReadStats } from "./read-options.js";
export type { ReadRecordsOptions, RecordFormat } from "./record-reader.js";
export { readRecords } from "./record-reader.js";
export type { ResumableJsonlState } from "./resumable-jsonl.js";
export { ResumableJsonlWriter } from "./resumable-jsonl.js";
export type { SoftLabelOutput, SoftLabelRow } from "./soft-labels.js";
export {
  parseSoftLabelRow,
  readSoftLabels,
  validateSoftLabelRecord,
  writeSoftLabels,
} from "./soft-labels.js";
export type { StepSplitMode, StepSplitOptions } from "./step-split.js";
export { splitSolutionSteps } from "./step-split.js";
export type { LoadQuestionsOptions } from "./test-sets.js";
export { loadGsm8k, loadGsmPlus, loadMath500, loadQuestions } from "./test-sets.js";
