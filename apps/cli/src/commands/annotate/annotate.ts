import type { AnswerDomain, LabeledTrajectory, Trajectory } from "@pqm/core";
import {
  type AnnotatedRow,
  type AnnotationSearch,
  type AnnotationSummary,
  ArithEnvironment,
  annotate,
  candidateTrajectories,
  createReadStats,
  type LabeledFormat,
  loadCandidates,
  type OpenAIApi,
  readLabeledTrajectories,
  readRecords,
} from "@pqm/data";
import { CliError } from "../../shared/cli-error.js";
import { AnnotationProgressView, progressStyle } from "../../shared/progress-views.js";
import { describeSkipped, type SkippedRows } from "../../shared/skipped-rows.js";
import { loadTestSet } from "../../shared/test-sets.js";
import { createCompleter, parseCompleterSpec } from "./completer.js";

/** Options of `pqm annotate`. */
export interface AnnotateCommandOptions {
  /** A step-labeled or trajectory file, or a candidate file (exactly one of `input` and `arith`). */
  input?: string;
  /** Generate this many arith training questions instead of reading a file. */
  arith?: number;
  /** Seed of the arith environment (questions and policy). */
  arithSeed: number;
  /** Sampled solutions per arith question. */
  samples: number;
  /** The input's format (default: detected; `candidates` for a best-of-n candidate file). */
  format?: LabeledFormat | "candidates";
  /** Malformed rows of the input stop the command (naming line and field) instead of being skipped. */
  strict?: boolean;
  /** Start over: delete the output, its failures file and its run file first (`--overwrite`). */
  overwrite?: boolean;
  /** The test set giving a candidate file's gold answers (name or file). */
  test?: string;
  /** Checker of a test file's questions. */
  domain: AnswerDomain;
  dataDir?: string;
  /** The labels JSONL; rows already there are kept and skipped (resume). */
  output: string;
  /** `arith` or `openai:<base-url>[,<base-url>...]`. */
  completer: string;
  /** Model name for `openai:` completers. */
  model?: string;
  api: OpenAIApi;
  /** Rollouts per step prefix. */
  n: number;
  /** Completer calls in flight at once. */
  concurrency: number;
  earlyStop: boolean;
  search: AnnotationSearch;
  apiKeyEnv?: string;
  apiKeyFile?: string;
  /** Progress on stderr (a bar on a terminal, else a line every 2 s), for the run and any test-set download. */
  progress: boolean;
}

/** Agreement of the Monte-Carlo hard labels with the arith environment's exact labels. */
export interface ExactAgreement {
  steps: number;
  agreeing: number;
  /** agreeing / steps, in [0, 1]. */
  share: number;
  /** Steps whose exact label is 1 but that no rollout continued to the answer. */
  missedCorrect: number;
  /** Steps whose exact label is 0 but that a rollout still finished right (a lucky rollout). */
  luckyWrong: number;
}

/** What `pqm annotate` did. */
export interface AnnotateCommandResult {
  input: string;
  output: string;
  failuresFile: string;
  completer: string;
  /** Input rows left out because their question has no gold answer. */
  skippedNoAnswer: number;
  /** Rows of the input file its reader skipped (malformed), by reason; null for arith input. */
  skippedRows: SkippedRows | null;
  summary: AnnotationSummary;
  /** Only when every labeled row is an arith question. */
  exactAgreement?: ExactAgreement;
}

/**
 * Math-Shepherd Monte-Carlo annotation of a file or of generated arith solutions with @pqm/data's
 * `annotate`: rows are appended to `output` as they finish, failed rows go to
 * `<output>.failures.jsonl`, and a rerun of the same command resumes. Ctrl-C stops cleanly.
 *
 * Throws a usage CliError for conflicting options or a bad completer, a CliError naming the file
 * and row when the arith completer meets a question it cannot continue or no row has a gold
 * answer, and @pqm/data's errors (file, line, field) for a bad input file.
 */
export async function runAnnotate(
  options: AnnotateCommandOptions,
  signal?: AbortSignal,
): Promise<AnnotateCommandResult> {
  if ((options.input === undefined) === (options.arith === undefined)) {
    throw new CliError("give exactly one of --input <file> and --arith <count>", 2);
  }
  const spec = parseCompleterSpec(options.completer);
  const environment = new ArithEnvironment({ seed: options.arithSeed });
  const completer = createCompleter(spec, environment, {
    ...(options.model !== undefined ? { model: options.model } : {}),
    api: options.api,
    concurrency: options.concurrency,
    ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
    ...(options.apiKeyFile !== undefined ? { apiKeyFile: options.apiKeyFile } : {}),
  });

  const inputName =
    options.input ??
    `arith:${options.arith} questions x ${options.samples} samples (seed ${options.arithSeed})`;
  const read =
    options.input !== undefined
      ? await readInput(options.input, options)
      : {
          trajectories: environment.sampleTrajectories({
            questions: options.arith!,
            samplesPerQuestion: options.samples,
          }),
          skipped: null,
        };
  const all: Trajectory[] = read.trajectories;
  if (read.skipped !== null && read.skipped.skipped > 0 && options.progress) {
    process.stderr.write(`annotate: ${options.input}: ${describeSkipped(read.skipped)}\n`);
  }
  const trajectories = all.filter((trajectory) => trajectory.question.answer !== null);
  const skippedNoAnswer = all.length - trajectories.length;
  if (trajectories.length === 0) {
    throw new CliError(
      `${inputName}: no row has a gold answer (Math-Shepherd, PRM800K and ProcessBench rows carry none), ` +
        "so rollouts cannot be checked; use trajectories with answers, or a candidate file with --test",
    );
  }
  if (skippedNoAnswer > 0 && options.progress) {
    process.stderr.write(`annotate: left out ${skippedNoAnswer} rows without a gold answer\n`);
  }
  if (spec.kind === "arith") {
    trajectories.forEach((trajectory, row) => {
      try {
        environment.problemFor(trajectory.question);
      } catch {
        throw new CliError(
          `${inputName}: row ${row + 1} (question ${trajectory.question.id}) is not an arith question: ` +
            "the arith completer continues only questions made by the arith environment (--arith, or " +
            "trajectories whose question carries meta.arith)",
        );
      }
    });
  }

  const view = new AnnotationProgressView(progressStyle(options.progress));
  let result: Awaited<ReturnType<typeof annotate>>;
  try {
    result = await annotate(trajectories, {
      completer,
      n: options.n,
      output: options.output,
      concurrency: options.concurrency,
      earlyStop: options.earlyStop,
      search: options.search,
      ...(options.overwrite === true ? { overwrite: true } : {}),
      onProgress: view.onProgress,
      ...(signal !== undefined ? { signal } : {}),
    });
  } finally {
    view.close();
  }
  const report: AnnotateCommandResult = {
    input: inputName,
    output: options.output,
    failuresFile: `${options.output}.failures.jsonl`,
    completer: completer.name,
    skippedNoAnswer,
    skippedRows: read.skipped,
    summary: result.summary,
  };
  const agreement = exactAgreement(environment, result.rows);
  if (agreement) report.exactAgreement = agreement;
  return report;
}

async function readInput(
  path: string,
  options: AnnotateCommandOptions,
): Promise<{ trajectories: Trajectory[]; skipped: SkippedRows | null }> {
  const format = options.format ?? ((await looksLikeCandidates(path)) ? "candidates" : undefined);
  if (format !== "candidates") {
    const stats = createReadStats();
    const trajectories: LabeledTrajectory[] = [];
    const readOptions = { stats, strict: options.strict === true, ...(format ? { format } : {}) };
    for await (const trajectory of readLabeledTrajectories(path, readOptions)) {
      trajectories.push(trajectory);
    }
    return {
      trajectories,
      skipped: {
        rows: stats.seen - stats.blankLines,
        skipped: stats.skipped,
        skippedByReason: { ...stats.skippedByReason },
      },
    };
  }
  if (options.test === undefined) {
    throw new CliError(`${path} is a candidate file, which has no gold answers: give --test <name|file>`, 2);
  }
  const testSet = await loadTestSet(options.test, {
    domain: options.domain,
    progress: options.progress,
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
  });
  const { sets } = await loadCandidates(path, {
    testSet: { questions: testSet.questions, file: testSet.file },
  });
  return {
    trajectories: sets.flatMap((set) => candidateTrajectories(set, testSet.questions[set.index]!)),
    skipped: null,
  };
}

/** A best-of-n candidate file's first record has a `question` string and a `responses` list. */
async function looksLikeCandidates(path: string): Promise<boolean> {
  for await (const { record } of readRecords(path)) {
    return (
      typeof record === "object" &&
      record !== null &&
      !Array.isArray(record) &&
      typeof record.question === "string" &&
      Array.isArray(record.responses)
    );
  }
  return false;
}

function exactAgreement(environment: ArithEnvironment, rows: readonly AnnotatedRow[]): ExactAgreement | null {
  const agreement: ExactAgreement = { steps: 0, agreeing: 0, share: 0, missedCorrect: 0, luckyWrong: 0 };
  for (const row of rows) {
    if (row.status !== "ok") continue;
    let exact: number[];
    try {
      exact = environment.exactProcessLabels(row.question, row.steps);
    } catch {
      // Not an arith question: there is no exact truth to compare with.
      return null;
    }
    exact.forEach((label, step) => {
      const monteCarlo = row.hardLabels[step];
      agreement.steps += 1;
      if (monteCarlo === label) agreement.agreeing += 1;
      else if (label === 1) agreement.missedCorrect += 1;
      else agreement.luckyWrong += 1;
    });
  }
  if (agreement.steps === 0) return null;
  agreement.share = agreement.agreeing / agreement.steps;
  return agreement;
}
