import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CandidateSet } from "@pqm/data";
import { fetchDataset, readProcessBench, writeCandidates } from "@pqm/data";
import {
  createEvaluationResults,
  type EvaluationReportFiles,
  type EvaluationResults,
  evaluateProcessBench,
  firstWrongStep,
  formatScoringProgress,
  type ProcessBenchItem,
  type ProcessBenchThreshold,
  readCandidateFile,
  readScoresFile,
  type ScoresFile,
  scoreCandidatesCached,
  writeEvaluationReport,
} from "@pqm/eval";
import { CliError } from "../../shared/cli-error.js";
import { scoreWithModel } from "../../shared/model-scorer.js";
import { progressStyle, withDownloadProgress } from "../../shared/progress-views.js";

/** The ProcessBench subsets, in the order of the paper's table. */
export const PROCESSBENCH_SUBSETS = ["gsm8k", "math", "olympiadbench", "omnimath"] as const;

/** Options of `pqm eval processbench`. */
export interface ProcessBenchCommandOptions {
  /** A pqm-scores/1 file over the ProcessBench items (exactly one of `scores` and `model`). */
  scores?: string;
  /** A checkpoint folder of pqm train, or a published PRM's Hugging Face folder (see `loadModelScorer`). */
  model?: string;
  /** The published PRM convention of `model` (default: detected). */
  convention?: string;
  /** The base model's folder of PQM's released state dict (convention `pqm-release`). */
  backbone?: string;
  subsets: string[];
  /**
   * How the threshold is set: a fixed probability (default 0.5: a step is wrong when sigmoid(score) is
   * under it) or tuned on a subset (maximizing its F1); see {@link parseProcessBenchThreshold}.
   */
  threshold?: ProcessBenchThreshold;
  /** Folder of local ProcessBench copies (`<dir>/processbench/<subset>.json`; default `PQM_DATA_DIR`). */
  dataDir?: string;
  /** Where the ProcessBench candidate file is written (and model scores cached). */
  cacheDir: string;
  /** Results folder. */
  out: string;
  progress: boolean;
}

/** What `pqm eval processbench` did. */
export interface ProcessBenchCommandResult {
  results: EvaluationResults;
  files: EvaluationReportFiles;
  /** The ProcessBench items as a candidate file: what the scores' `candidates_sha256` must hash. */
  candidatesFile: string;
  candidatesSha256: string;
  /** Items per subset, in the order of the scores file. */
  items: Record<string, number>;
}

/**
 * ProcessBench evaluation. The chosen subsets' items, subset after subset in the order given and
 * each in file order, are written as a candidate file (one question per item, its one response
 * holding the item's `steps`) at `<cacheDir>/processbench-<subsets>.candidates.json`; the scores
 * file must be a pqm-scores/1 file for exactly that file (its SHA-256 in the header; one line per
 * item with one candidate and one score per step, any scorer's: a checkpoint's, an ONNX export's,
 * a remote model's). One threshold applies to every subset: by default a fixed sigmoid(score) < 0.5,
 * or the one maximizing F1 on a chosen subset; the report goes to `out`.
 *
 * Throws a usage CliError for unknown or repeated subsets, and the errors of @pqm/data and
 * @pqm/eval (naming file, line and field) for a bad ProcessBench file or a scores file that does
 * not fit the items.
 */
export async function runProcessBench(
  options: ProcessBenchCommandOptions,
): Promise<ProcessBenchCommandResult> {
  if ((options.scores === undefined) === (options.model === undefined)) {
    throw new CliError("give exactly one of --scores <file> and --model <checkpoint>", 2);
  }
  if (options.model === undefined && (options.convention !== undefined || options.backbone !== undefined)) {
    throw new CliError("--convention and --backbone go with --model <folder>", 2);
  }
  checkSubsets(options);
  const candidatesFile = join(options.cacheDir, `processbench-${options.subsets.join("-")}.candidates.json`);
  // Written every run (a few MB): its bytes, hence its hash, follow from the ProcessBench files alone.
  const { labels } = await writeProcessBenchCandidates(candidatesFile, options);
  const candidates = await readCandidateFile(candidatesFile);
  const scores: ScoresFile =
    options.scores !== undefined
      ? await readScoresFile(options.scores, { candidates }).catch((error: unknown) => {
          throw explainHash(error, candidatesFile);
        })
      : await scoreWithModel(
          options.model!,
          (scorer) =>
            scoreCandidatesCached(
              scorer,
              candidates,
              options.cacheDir,
              options.progress
                ? { onProgress: (event) => process.stderr.write(`${formatScoringProgress(event)}\n`) }
                : {},
            ),
          {
            ...(options.convention === undefined ? {} : { convention: options.convention }),
            ...(options.backbone === undefined ? {} : { backbone: options.backbone }),
            ...(options.progress ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
          },
        );
  if (scores.level === "outcome") {
    throw new CliError(
      `${options.scores}: the scores are outcome level (one per item), but ProcessBench needs one score per step`,
    );
  }
  const items: Record<string, ProcessBenchItem[]> = {};
  let offset = 0;
  for (const subset of options.subsets) {
    const subsetLabels = labels[subset]!;
    items[subset] = subsetLabels.map((label, i) => ({
      label,
      stepScores: scores.scores[offset + i]![0]!,
    }));
    offset += subsetLabels.length;
  }
  const threshold = options.threshold ?? { kind: "fixed", probability: 0.5 };
  const evaluation = evaluateProcessBench(items, threshold);
  const results = createEvaluationResults({
    title: "ProcessBench",
    config: {
      scores: options.scores ?? null,
      model: options.model ?? null,
      ...(options.convention === undefined ? {} : { convention: options.convention }),
      ...(options.backbone === undefined ? {} : { backbone: options.backbone }),
      subsets: options.subsets,
      threshold: threshold.kind === "fixed" ? threshold.probability : `tune-on-${threshold.subset}`,
      candidatesSha256: candidates.sha256,
    },
    processBench: evaluation,
  });
  const files = await writeEvaluationReport(options.out, results);
  return {
    results,
    files,
    candidatesFile,
    candidatesSha256: candidates.sha256,
    items: Object.fromEntries(options.subsets.map((subset) => [subset, labels[subset]!.length])),
  };
}

/** Adds to a hash mismatch which file the scores must be made for. */
function explainHash(error: unknown, candidatesFile: string): unknown {
  if (error instanceof Error && /candidates_sha256/.test(error.message)) {
    return new CliError(
      `${error.message}; ProcessBench scores must be made for the candidate file ${candidatesFile} ` +
        "(the chosen subsets' items in order, one candidate each)",
    );
  }
  return error;
}

/** Options of {@link exportProcessBenchCandidates}. */
export type ProcessBenchExportOptions = Pick<
  ProcessBenchCommandOptions,
  "subsets" | "threshold" | "dataDir" | "progress"
>;

/**
 * The threshold of `--threshold` and `--threshold-subset`: a probability strictly between 0 and 1
 * (fixed: a step is wrong when sigmoid(score) is under it; default 0.5), or `tune-on-<subset>` (the
 * threshold maximizing F1 on that subset, applied to all); `--threshold-subset <name>` alone means
 * `tune-on-<name>`. Throws a usage CliError for anything else or for the two flags disagreeing.
 */
export function parseProcessBenchThreshold(
  threshold: string | undefined,
  thresholdSubset: string | undefined,
): ProcessBenchThreshold {
  if (threshold === undefined) {
    return thresholdSubset === undefined
      ? { kind: "fixed", probability: 0.5 }
      : { kind: "tune", subset: thresholdSubset };
  }
  const tuned = /^tune-on-(.+)$/.exec(threshold.trim());
  if (tuned) {
    if (thresholdSubset !== undefined && thresholdSubset !== tuned[1]) {
      throw new CliError(
        `--threshold ${threshold} and --threshold-subset ${thresholdSubset} disagree; give one of them`,
        2,
      );
    }
    return { kind: "tune", subset: tuned[1]! };
  }
  if (thresholdSubset !== undefined) {
    throw new CliError(
      `--threshold-subset ${thresholdSubset} tunes the threshold, but --threshold ${threshold} fixes it; give one of them`,
      2,
    );
  }
  const probability = Number(threshold);
  if (threshold.trim() === "" || !(probability > 0 && probability < 1)) {
    throw new CliError(
      `--threshold: expected a probability strictly between 0 and 1 (e.g. 0.5) or tune-on-<subset> (e.g. tune-on-gsm8k), got '${threshold}'`,
      2,
    );
  }
  return { kind: "fixed", probability };
}

/** What {@link exportProcessBenchCandidates} wrote. */
export interface ProcessBenchExport {
  candidatesFile: string;
  candidatesSha256: string;
  /** Items per subset, in file order. */
  items: Record<string, number>;
}

/**
 * Writes the chosen subsets' ProcessBench items as a candidate file (see {@link runProcessBench})
 * to `path`, so that another tool can score them; returns its SHA-256, the hash a scores file for
 * it must carry. Throws as {@link runProcessBench}.
 */
export async function exportProcessBenchCandidates(
  path: string,
  options: ProcessBenchExportOptions,
): Promise<ProcessBenchExport> {
  checkSubsets(options);
  const { labels } = await writeProcessBenchCandidates(path, options);
  const candidates = await readCandidateFile(path);
  return {
    candidatesFile: path,
    candidatesSha256: candidates.sha256,
    items: Object.fromEntries(options.subsets.map((subset) => [subset, labels[subset]!.length])),
  };
}

function checkSubsets(options: ProcessBenchExportOptions): void {
  for (const subset of options.subsets) {
    if (!PROCESSBENCH_SUBSETS.some((known) => known === subset)) {
      throw new CliError(
        `--subsets: unknown subset '${subset}' (known: ${PROCESSBENCH_SUBSETS.join(", ")})`,
        2,
      );
    }
  }
  if (new Set(options.subsets).size !== options.subsets.length) {
    throw new CliError(`--subsets names a subset twice: ${options.subsets.join(",")}`, 2);
  }
  const threshold = options.threshold;
  if (threshold?.kind === "tune" && !options.subsets.includes(threshold.subset)) {
    throw new CliError(
      `--threshold-subset '${threshold.subset}' is not among --subsets ${options.subsets.join(",")}`,
      2,
    );
  }
}

/** Reads the subsets' items and writes them as a candidate file; returns each subset's labels. */
async function writeProcessBenchCandidates(
  path: string,
  options: ProcessBenchExportOptions,
): Promise<{ labels: Record<string, number[]> }> {
  const labels: Record<string, number[]> = {};
  const sets: CandidateSet[] = [];
  for (const subset of options.subsets) {
    const fetched = await withDownloadProgress(progressStyle(options.progress), (hub) =>
      fetchDataset(`processbench/${subset}`, {
        ...hub,
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      }),
    );
    const subsetLabels: number[] = [];
    for await (const trajectory of readProcessBench(fetched.path)) {
      subsetLabels.push(firstWrongStep(trajectory.hardLabels));
      sets.push({
        index: sets.length,
        question: trajectory.question.text,
        responses: [
          {
            text: trajectory.steps.join("\n\n"),
            modelName: typeof trajectory.meta?.generator === "string" ? trajectory.meta.generator : "",
            steps: trajectory.steps,
            annotations: { steps: trajectory.steps },
          },
        ],
      });
    }
    labels[subset] = subsetLabels;
  }
  await mkdir(dirname(path), { recursive: true });
  await writeCandidates(path, sets);
  return { labels };
}
