// The public API of @pqm/eval.
export type { AnswerChecker } from "./answer-checker.js";
export { dataAnswerChecker, loadDataAnswerChecker } from "./answer-checker.js";
export { auroc } from "./auroc.js";
export type {
  BestOfNMethod,
  BestOfNOptions,
  BestOfNProtocol,
  BestOfNQuestion,
  BestOfNResult,
  CurvePoint,
} from "./best-of-n.js";
export { bestOfNMethodLabels, bestOfNMethods, evaluateBestOfN } from "./best-of-n.js";
export type { BootstrapOptions, Interval, ResamplePlan } from "./bootstrap.js";
export { bootstrapMean, createResamplePlan, quantile } from "./bootstrap.js";
export type { CandidateFile } from "./candidate-file.js";
export { readCandidateFile, sha256Hex, sha256OfFile } from "./candidate-file.js";
export type {
  CandidateEvaluation,
  CandidateEvaluationInput,
  CandidateEvaluationOptions,
} from "./evaluate-candidates.js";
export { evaluateCandidates } from "./evaluate-candidates.js";
export type { ProcessBenchEvaluation, ProcessBenchItem, ProcessBenchMetrics } from "./processbench.js";
export {
  chooseProcessBenchThreshold,
  evaluateProcessBench,
  firstWrongStep,
  predictFirstWrongStep,
  processBenchMetrics,
} from "./processbench.js";
export type { QValueFidelity, QValueOrderingCheck, QValueTrajectory } from "./q-value-fidelity.js";
export { evaluateQValueFidelity, theoremOrderingCheck } from "./q-value-fidelity.js";
export type { RandomSource } from "./random.js";
export { createRandom, deriveSeed, sampleWithoutReplacement } from "./random.js";
export { midranks } from "./ranks.js";
export type {
  DemoMethod,
  DemoReportFiles,
  DemoReportInput,
  DemoReportRun,
  DemoSummary,
  PositionScores,
  SummaryReportOptions,
  SummaryValue,
  TitledTable,
} from "./report/demo-report.js";
export { demoAccuracySpec, demoTables, formatSummaryValue, writeDemoReport } from "./report/demo-report.js";
export type {
  ExperimentReportFiles,
  ExperimentReportInput,
  ExperimentReportOptions,
  ExperimentReportRow,
} from "./report/experiment-report.js";
export { experimentSpec, experimentTable, writeExperimentReport } from "./report/experiment-report.js";
export type { HtmlPlot } from "./report/html.js";
export { escapeHtml, renderHtmlReport, stepColour } from "./report/html.js";
export { renderMarkdownReport } from "./report/markdown.js";
export {
  accuracyCurveSpec,
  aggregationSweepSpec,
  canRenderPng,
  PNG_RENDERER_PACKAGE,
  renderSpecToSvg,
  svgToPng,
} from "./report/plots.js";
export type { CandidateDetail, QuestionDetail } from "./report/question-details.js";
export { buildQuestionDetails } from "./report/question-details.js";
export type { EvaluationParts, EvaluationResults } from "./report/results.js";
export {
  createEvaluationResults,
  formatNumber,
  formatPercent,
  packageVersions,
  RESULTS_FORMAT,
  readEvaluationResults,
} from "./report/results.js";
export { scrubSecrets } from "./report/secrets.js";
export type { ReportTable } from "./report/tables.js";
export { buildReportTables, formatAccuracyCell } from "./report/tables.js";
export type { ReportFiles, ReportOptions } from "./report/write-report.js";
export { writeEvaluationReport } from "./report/write-report.js";
export type { ScoreCacheOptions, ScoringProgress } from "./scores-cache.js";
export { formatScoringProgress, scoreCandidatesCached, scoresCachePath } from "./scores-cache.js";
export type { ExcludedScore, ReadScoresOptions, ScoresFile, ScoresHeader } from "./scores-file.js";
export { formatScoresLine, readScoresFile, SCORES_FORMAT, writeScoresFile } from "./scores-file.js";
export type { VoteScratch } from "./selection.js";
export {
  createVoteScratch,
  NO_ANSWER_GROUP,
  passAtNUnbiased,
  pickByVote,
  pickHighestScore,
} from "./selection.js";
export { pearson, spearman } from "./spearman.js";
export type { StepLabelMetrics, StepLabelOptions, StepLabelTrajectory } from "./step-labels.js";
export { evaluateStepLabels } from "./step-labels.js";
export type {
  AnswerGrouping,
  CandidateVerdict,
  GoldAnswer,
  VerdictOptions,
  VerdictTable,
} from "./verdicts.js";
export { checkCandidateAnswers, normaliseAnswerString } from "./verdicts.js";
