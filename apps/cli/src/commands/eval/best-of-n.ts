import { join } from "node:path";
import type { AggregationName, AnswerDomain } from "@pqm/core";
import {
  type BestOfNProtocol,
  buildQuestionDetails,
  createEvaluationResults,
  type EvaluationReportFiles,
  type EvaluationResults,
  evaluateCandidates,
  formatScoringProgress,
  loadDataAnswerChecker,
  readCandidateFile,
  readScoresFile,
  type ScoresFile,
  scoreCandidatesCached,
  writeEvaluationReport,
} from "@pqm/eval";
import { CliError } from "../../shared/cli-error.js";
import { scoreWithModel } from "../../shared/model-scorer.js";
import { loadTestSet } from "../../shared/test-sets.js";

/** The n of the paper (docs/method.md, section 7.2), used up to the candidate count when `--n` is not given. */
export const DEFAULT_NS = [1, 8, 16, 32, 64, 128] as const;

/** Options of `pqm eval bon`. */
export interface BestOfNCommandOptions {
  /** A known test set name (`math500`, `gsm-plus`, `gsm8k`) or a test file. */
  test: string;
  /** The candidate file (a JSON list aligned with the test set). */
  candidates: string;
  /** A pqm-scores/1 file for the candidate file (exactly one of `scores` and `model`). */
  scores?: string;
  /** A checkpoint folder to score the candidates with. */
  model?: string;
  /** Subset sizes; default {@link DEFAULT_NS} up to the smallest candidate count, plus that count. */
  ns?: number[];
  aggregation: AggregationName;
  protocol: BestOfNProtocol;
  /** Random subsets per question and n (subsets protocol). */
  subsets: number;
  seed: number;
  bootstrapResamples: number;
  /** Checker of a test file's questions (known test sets bring their own). */
  domain: AnswerDomain;
  /** Results folder. */
  out: string;
  /** Folder of the verdict cache and of model scores. */
  cacheDir: string;
  dataDir?: string;
  /** Step split of the candidates (`reference`: `Step N:` headers only, as the reference code). */
  stepSplit: "auto" | "reference";
  progress: boolean;
  /** When an n exceeds a question's candidates: stop with an error (default) or leave the question out of that n. */
  tooFewCandidates?: "error" | "exclude";
}

/** What `pqm eval bon` did: the results (as results.json holds them) and the files written. */
export interface BestOfNCommandResult {
  results: EvaluationResults;
  files: EvaluationReportFiles;
}

/**
 * Best-of-n over a candidate file: reads the test set and the candidates (which must line up), the
 * scores (refusing a file made for other candidates) or scores them with a model, checks every
 * answer once, runs @pqm/eval's best-of-n with its baselines and writes the results folder.
 * Throws a usage CliError for conflicting options, and @pqm/data / @pqm/eval errors naming the
 * file, line and field for bad or mismatched inputs.
 */
export async function runBestOfN(options: BestOfNCommandOptions): Promise<BestOfNCommandResult> {
  if ((options.scores === undefined) === (options.model === undefined)) {
    throw new CliError("give exactly one of --scores <file> and --model <checkpoint>", 2);
  }
  const log = (line: string) => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  const testSet = await loadTestSet(options.test, {
    domain: options.domain,
    progress: options.progress,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  log(`test set: ${testSet.file} (${testSet.questions.length} questions)`);
  const candidates = await readCandidateFile(options.candidates, {
    testSet: { questions: testSet.questions, file: testSet.file },
    ...(options.stepSplit === "reference" ? { mode: "numbered" as const } : {}),
  });
  log(`candidates: ${candidates.file} (sha256 ${candidates.sha256.slice(0, 16)}...)`);
  const fewest = Math.min(...candidates.questions.map((set) => set.responses.length));
  const ns = options.ns ?? defaultNs(fewest);
  if (ns.length === 0 || fewest < 1) {
    throw new CliError(`${candidates.file}: a question has no candidates, so no n can be evaluated`);
  }
  const tooFewCandidates = options.tooFewCandidates ?? "error";
  if (tooFewCandidates === "error") {
    // Checked before scoring, and here so the message names the command's flag (the library's names its option).
    const largest = Math.max(...ns);
    const q = candidates.questions.findIndex((set) => set.responses.length < largest);
    if (q >= 0) {
      const n = ns.find((value) => value > candidates.questions[q]!.responses.length)!;
      throw new CliError(
        `${candidates.file}: question ${q + 1} has ${candidates.questions[q]!.responses.length} candidates, ` +
          `fewer than n = ${n}; pass --too-few-candidates exclude to leave such questions out of that n, ` +
          `or choose a smaller --n`,
      );
    }
  }
  const scores: ScoresFile =
    options.scores !== undefined
      ? await readScoresFile(options.scores, { candidates })
      : await scoreWithModel(options.model!, (scorer) =>
          scoreCandidatesCached(scorer, candidates, options.cacheDir, {
            questions: testSet.questions,
            ...(options.progress
              ? { onProgress: (event) => process.stderr.write(`${formatScoringProgress(event)}\n`) }
              : {}),
          }),
        );
  log("checking answers and running best-of-n");
  const evaluation = await evaluateCandidates(
    {
      questions: testSet.questions,
      candidates,
      scores,
      checker: await loadDataAnswerChecker(),
      verdictCacheFile: join(options.cacheDir, `verdicts-${candidates.sha256.slice(0, 16)}.json`),
    },
    {
      ns,
      aggregation: options.aggregation,
      protocol: options.protocol,
      subsets: options.subsets,
      seed: options.seed,
      bootstrapResamples: options.bootstrapResamples,
      tooFewCandidates,
    },
  );
  const results = createEvaluationResults({
    title: `Best-of-n on ${testSet.name}`,
    config: {
      test: options.test,
      testFile: testSet.file,
      candidates: options.candidates,
      scores: options.scores ?? null,
      model: options.model ?? null,
      ns,
      aggregation: options.aggregation,
      protocol: options.protocol,
      subsets: options.subsets,
      seed: options.seed,
      bootstrapResamples: options.bootstrapResamples,
      stepSplit: options.stepSplit,
    },
    candidates: evaluation,
  });
  log(`writing the report to ${options.out}`);
  const details = buildQuestionDetails(evaluation, testSet.questions, candidates, scores);
  const files = await writeEvaluationReport(options.out, results, details);
  return { results, files };
}

function defaultNs(fewest: number): number[] {
  const ns: number[] = DEFAULT_NS.filter((n) => n <= fewest);
  if (fewest >= 1 && !ns.includes(fewest)) ns.push(fewest);
  return ns;
}
