/**
 * `@pqm/eval`: evaluation of process reward models, on plain inputs (scores, verdicts, answer groups).
 *
 * - Best-of-n with its baselines and the aggregation sweep ({@link evaluateCandidates} from files,
 *   {@link evaluateBestOfN} from plain arrays), answers judged by an {@link AnswerChecker}.
 * - Step-level metrics: ProcessBench, step AUROC and accuracy, fidelity to exact Q-values.
 * - The files: candidate files, scores files (`pqm-scores/1`) and their cache.
 * - The reports: `results.json`, `report.md`, plots and `index.html` of an evaluation, and the demo and
 *   experiment reports of `@pqm/pipeline`.
 *
 * The pieces the reports are made of (HTML and Markdown renderers, Vega-Lite specs, SVG/PNG rendering,
 * number formatting, secret scrubbing) are in the `@pqm/eval/report` entry.
 *
 * @packageDocumentation
 */

export type { AnswerChecker } from "@pqm/core/reference";
export { dataAnswerChecker, loadDataAnswerChecker } from "./answers/answer-checker.js";
export type {
  AnswerGrouping,
  CandidateVerdict,
  GoldAnswer,
  VerdictOptions,
  VerdictTable,
} from "./answers/verdicts.js";
export { checkCandidateAnswers } from "./answers/verdicts.js";

export type {
  BestOfNMethod,
  BestOfNOptions,
  BestOfNProtocol,
  BestOfNQuestion,
  BestOfNResult,
  CurvePoint,
} from "./best-of-n/best-of-n.js";
export {
  bestOfNMethodLabel,
  bestOfNMethodLabels,
  bestOfNMethods,
  evaluateBestOfN,
  OUTCOME_NOT_APPLICABLE,
  outcomeMethodLabels,
} from "./best-of-n/best-of-n.js";
export type {
  CandidateEvaluation,
  CandidateEvaluationInput,
  CandidateEvaluationOptions,
} from "./best-of-n/evaluate-candidates.js";
export { evaluateCandidates } from "./best-of-n/evaluate-candidates.js";
export type { CandidateFile } from "./candidates/candidate-file.js";
export { readCandidateFile, sha256OfFile } from "./candidates/candidate-file.js";
export type {
  DemoMethod,
  DemoReportFiles,
  DemoReportInput,
  DemoReportRun,
  DemoSearchSummary,
  DemoSummary,
  PositionScores,
  SummaryReportOptions,
  SummaryValue,
  TitledTable,
} from "./report/demo-report.js";
export { demoTables, writeDemoReport } from "./report/demo-report.js";
export type { EvaluationReportFiles, EvaluationReportOptions } from "./report/evaluation-report.js";
export { writeEvaluationReport } from "./report/evaluation-report.js";
export type {
  ExperimentReportFiles,
  ExperimentReportInput,
  ExperimentReportOptions,
  ExperimentReportRow,
} from "./report/experiment-report.js";
export { experimentTable, writeExperimentReport } from "./report/experiment-report.js";
export { canRenderPng } from "./report/plots.js";
export type { CandidateDetail, QuestionDetail } from "./report/question-details.js";
export { buildQuestionDetails } from "./report/question-details.js";
export type { EvaluationParts, EvaluationResults } from "./report/results.js";
export { createEvaluationResults, RESULTS_FORMAT, readEvaluationResults } from "./report/results.js";
export type { ScoreCacheOptions, ScoringProgress, ScoringSaved } from "./scores/scores-cache.js";
export { formatScoringProgress, scoreCandidatesCached, scoresCachePath } from "./scores/scores-cache.js";
export type {
  ExcludedScore,
  ReadScoresOptions,
  ScoreLevel,
  ScoresFile,
  ScoresHeader,
} from "./scores/scores-file.js";
export {
  readScoresFile,
  SCORES_FORMAT,
  writeOutcomeScoresFile,
  writeScoresFile,
} from "./scores/scores-file.js";
export type { Interval } from "./statistics/bootstrap.js";
export type {
  ProcessBenchEvaluation,
  ProcessBenchItem,
  ProcessBenchMetrics,
  ProcessBenchThreshold,
} from "./step-metrics/processbench.js";
export {
  chooseProcessBenchThreshold,
  DEFAULT_PROCESSBENCH_THRESHOLD,
  evaluateProcessBench,
  firstWrongStep,
  probabilityToLogit,
  processBenchMetrics,
} from "./step-metrics/processbench.js";
export type {
  QValueFidelity,
  QValueOrderingCheck,
  QValueTrajectory,
} from "./step-metrics/q-value-fidelity.js";
export { evaluateQValueFidelity, theoremOrderingCheck } from "./step-metrics/q-value-fidelity.js";
export type {
  StepLabelMetrics,
  StepLabelOptions,
  StepLabelTrajectory,
} from "./step-metrics/step-labels.js";
export { evaluateStepLabels } from "./step-metrics/step-labels.js";
