import { type BestOfNMethod, bestOfNMethodLabel, bestOfNMethods } from "../best-of-n/best-of-n.js";
import { type EvaluationResults, formatNumber, formatPercent } from "./results.js";

/** A table of formatted cells, rendered alike in report.md and index.html. */
export interface ReportTable {
  /** Stable id (HTML id of the table). */
  id: string;
  title: string;
  /** A sentence under the title (protocol, threshold...). */
  note?: string;
  header: string[];
  rows: string[][];
}

/** `51.4 [48.2, 54.6]`: a percentage with its interval. */
export function formatAccuracyCell(point: { mean: number; low: number; high: number }): string {
  return `${formatPercent(point.mean)} [${formatPercent(point.low)}, ${formatPercent(point.high)}]`;
}

/**
 * Why the methods' numbers at n = 1 differ, or not: with one candidate every method picks it, so all
 * estimate the chance that a random candidate is right; the note says how each computes it.
 */
export function nEqualsOneNote(protocol: "reference" | "subsets", subsets?: number): string {
  return protocol === "reference"
    ? "At n = 1 every method reads the first candidate, so all rows agree."
    : "At n = 1 every method has one candidate to pick, so all estimate the chance that a random candidate is right: " +
        "Random choice and pass@1 compute it exactly (correct candidates / candidates, per question), the methods that " +
        `pick (PRM best-of-1, votes) average ${subsets === undefined ? "the" : subsets} random one-candidate subsets per question, ` +
        "so they differ from it by sampling noise only (more with few questions or few subsets).";
}

/** The tables of a report, in order: best-of-n, aggregation sweep, verdicts, ProcessBench, step level, Q-values. */
export function buildReportTables(results: EvaluationResults): ReportTable[] {
  const tables: ReportTable[] = [];
  const bon = results.bestOfN;
  if (bon) {
    const protocolNote =
      bon.protocol === "reference"
        ? "reference protocol: the first n candidates of each question, ties to the earliest, one run"
        : `subsets protocol: mean over ${bon.subsets} seeded random subsets of size n per question (seed ${bon.seed})`;
    const outcome = bon.scoreLevel === "outcome";
    const scoreNote = outcome
      ? "outcome-level scores: solution score = the candidate's one score (step-level methods are n/a)"
      : `solution score = ${bon.aggregation} of the step scores`;
    tables.push({
      id: "best-of-n",
      title: "Best-of-n accuracy (%)",
      note:
        `${protocolNote}; ${scoreNote}; ${Math.round(bon.level * 100)}% bootstrap interval over questions (${bon.bootstrapResamples} resamples).` +
        (bon.ns.includes(1) ? ` ${nEqualsOneNote(bon.protocol, bon.subsets)}` : ""),
      header: ["method", ...bon.ns.map((n) => `n = ${n}`)],
      rows: bestOfNMethods.map((method: BestOfNMethod) => [
        bestOfNMethodLabel(method, bon.scoreLevel),
        ...(bon.methods[method]?.map(formatAccuracyCell) ?? bon.ns.map(() => "n/a")),
      ]),
    });
    tables.push({
      id: "aggregation-sweep",
      title: "Aggregation sweep: best-of-n accuracy (%) per aggregation",
      note:
        bon.notApplicable?.sweep === undefined
          ? "Same candidates, subsets and verdicts; only the solution score changes."
          : `${bon.notApplicable.sweep[0]!.toUpperCase()}${bon.notApplicable.sweep.slice(1)}.`,
      header: ["aggregation", ...bon.ns.map((n) => `n = ${n}`)],
      rows:
        bon.notApplicable?.sweep === undefined
          ? Object.entries(bon.sweep).map(([name, points]) => [
              name,
              ...(points ?? []).map(formatAccuracyCell),
            ])
          : [["all", ...bon.ns.map(() => "n/a")]],
    });
    const excludedByN = bon.methods.bon.map((point) => point.excluded);
    if (excludedByN.some((count) => count > 0)) {
      tables.push({
        id: "exclusions",
        title: "Questions left out (fewer candidates than n)",
        header: ["n", ...bon.ns.map(String)],
        rows: [["questions left out", ...excludedByN.map(String)]],
      });
    }
  }
  const verdicts = results.verdicts;
  if (verdicts) {
    let candidates = 0;
    let correct = 0;
    let unanswered = 0;
    for (const row of verdicts.questions) {
      for (const verdict of row) {
        candidates++;
        if (verdict.correct) correct++;
        if (verdict.answer === null) unanswered++;
      }
    }
    tables.push({
      id: "verdicts",
      title: "Answer checking",
      note: `checker ${verdicts.checker}; answers grouped by ${verdicts.grouping === "checker" ? "checker equivalence" : "normalized string"}.`,
      header: [
        "questions",
        "candidates",
        "correct candidates (%)",
        "without an answer",
        "questions without gold answer",
        "left out for NaN scores",
      ],
      rows: [
        [
          String(verdicts.questions.length),
          String(candidates),
          formatPercent(candidates === 0 ? Number.NaN : correct / candidates),
          String(unanswered),
          String(verdicts.noGoldAnswer.length),
          String(results.inputs?.excludedForNaN.length ?? 0),
        ],
      ],
    });
  }
  const processBench = results.processBench;
  if (processBench) {
    const protocol = processBench.thresholdProtocol;
    const thresholdNote =
      protocol === undefined || protocol.kind === "tune"
        ? `the threshold maximizing F1 on '${processBench.thresholdSubset}' (its row is in-sample) and applied to every subset`
        : `a fixed threshold, sigmoid(score) < ${protocol.probability}, the same for every subset`;
    tables.push({
      id: "processbench",
      title: "ProcessBench (%)",
      note: `First wrong step = first step with score < ${formatNumber(processBench.threshold, 4)}, ${thresholdNote}.`,
      header: ["subset", "error accuracy", "correct accuracy", "F1", "with error", "correct"],
      rows: [
        ...Object.entries(processBench.subsets).map(([name, metrics]) => [
          name === processBench.thresholdSubset ? `${name} (threshold chosen here)` : name,
          formatPercent(metrics.errorAccuracy),
          formatPercent(metrics.correctAccuracy),
          formatPercent(metrics.f1),
          String(metrics.errorCount),
          String(metrics.correctCount),
        ]),
        ...(Object.keys(processBench.subsets).length > 1 && processBench.meanF1 !== undefined
          ? [["average of the subsets", "", "", formatPercent(processBench.meanF1), "", ""]]
          : []),
      ],
    });
  }
  const stepLabels = results.stepLabels;
  if (stepLabels) {
    tables.push({
      id: "step-labels",
      title: "Step-level classification",
      note: `A step is predicted correct when its score is >= ${formatNumber(stepLabels.threshold, 3)}; soft labels count as correct when >= ${stepLabels.softLabelCutoff}.`,
      header: ["AUROC", "accuracy (%)", "correct steps", "wrong steps"],
      rows: [
        [
          formatNumber(stepLabels.auroc),
          formatPercent(stepLabels.accuracy),
          String(stepLabels.positives),
          String(stepLabels.negatives),
        ],
      ],
    });
  }
  const qValues = results.qValues;
  if (qValues) {
    tables.push({
      id: "q-values",
      title: "Fidelity to exact Q-values",
      header: [
        "Spearman (pooled)",
        "Spearman (mean per trajectory)",
        "Theorem 3.5 ordering satisfied (%)",
        "steps",
      ],
      rows: [
        [
          formatNumber(qValues.spearmanPooled),
          formatNumber(qValues.spearmanMeanPerTrajectory),
          qValues.orderingShare === null ? "not checked" : formatPercent(qValues.orderingShare),
          String(qValues.steps),
        ],
      ],
    });
  }
  return tables;
}
