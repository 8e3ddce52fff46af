import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { JsonValue, Question, Scorer } from "@pqm/core/reference";
import { InterruptedError, isEquivalent, ResumableJsonlWriter } from "@pqm/data";
import { ConcurrencyLimiter } from "@pqm/data/http";
import type { TokenCounter } from "./scorers.js";
import { MeteredScorer } from "./scorers.js";
import type { SearchOutcome, SearchSpec } from "./search-methods.js";
import { searchQuestion, validateSearchSpec } from "./search-methods.js";
import type { SearchCompute, SearchNode } from "./search-tree.js";
import type { StepPolicy } from "./step-policy.js";

/** One question's result as a row of the results file. */
export interface QuestionResult {
  /** 0-based position in the run's question list. */
  index: number;
  questionId: string;
  /** Identifies the question (position, id and a hash of its text): a rerun skips finished keys. */
  key: string;
  /** Identifies the run's settings (method, budget, policy, scorer, seed...): see {@link searchFingerprint}. */
  run: string;
  answer: string | null;
  /** Whether the answer equals the gold one; null when the question has none. */
  correct: boolean | null;
  chosen: number | null;
  candidates: number[];
  unfinished: boolean;
  compute: SearchCompute;
  nodes: SearchNode[];
  /** What `annotate` added (the arith run: the exact truths of every node). */
  extra?: { [key: string]: JsonValue };
}

/** Progress of a run, after each question. */
export interface SearchProgress {
  done: number;
  total: number;
  /** Questions found finished in the results file. */
  resumed: number;
  correct: number;
  generatedTokens: number;
}

/** Options of {@link runSearch}. */
export interface RunSearchOptions {
  questions: readonly Question[];
  policy: StepPolicy;
  /** Any core `Scorer` (or one already metered). */
  scorer: Scorer | MeteredScorer;
  spec: SearchSpec;
  /** How the scorer's tokens are counted (default: words). */
  countTokens?: TokenCounter;
  /**
   * A JSONL file that receives one row per finished question (flushed to disk). A rerun with the
   * same settings reads it and searches only the questions not there yet; a file written with other
   * settings is refused.
   */
  output?: string;
  /** Questions searched at once (default 1). Calls within a question are concurrent anyway. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (progress: SearchProgress) => void;
  /** Extra fields for a question's row (e.g. exact truths); called once per searched question. */
  annotate?: (question: Question, outcome: SearchOutcome) => { [key: string]: JsonValue } | undefined;
  /** Decides correctness (default: @pqm/data's `isEquivalent` in the question's domain). */
  isCorrect?: (answer: string | null, question: Question) => boolean;
}

/**
 * The results file holds rows of a run with other settings: resuming would mix two runs. Use another
 * output, or delete the file to start over.
 */
export class SearchResultsMismatchError extends Error {
  readonly file: string;
  /** The 1-based line of the first foreign row. */
  readonly line: number;

  constructor(file: string, line: number, found: string, wanted: string) {
    super(
      `${file}:${line}: field 'run': the file holds results of another run ` +
        `(${found}); this run is ${wanted}. Use another output, or delete the file to start over`,
    );
    this.name = "SearchResultsMismatchError";
    this.file = file;
    this.line = line;
  }
}

/** What an interrupted run kept (the `saved` of its `InterruptedError`). */
export interface SearchSaved {
  /** The results file, when the run had one. */
  output?: string;
  /** Questions finished (resumed ones included); with `output`, each is a row of the file. */
  finished: number;
  total: number;
  /** Of `finished`, those found in the file when the run started. */
  resumed: number;
}

/** What a run found, over all its questions (resumed ones included). */
export interface SearchRunSummary {
  questions: number;
  /** Questions with a gold answer. */
  graded: number;
  correct: number;
  /** correct / graded, a share in [0, 1] (NaN when none is graded). */
  accuracy: number;
  /** Generated tokens of the whole run and per question. */
  generatedTokens: number;
  meanGeneratedTokens: number;
  /** The compute of the whole run, summed over questions. */
  compute: SearchCompute;
  resumed: number;
}

/** A run's results in question order, and their summary. */
export interface SearchRun {
  results: QuestionResult[];
  summary: SearchRunSummary;
}

/** The key that ties a results file's rows to a run's settings. */
export function searchFingerprint(spec: SearchSpec, policyName: string, scorerName: string): string {
  const settings = {
    method: spec.method,
    n: spec.n,
    beamWidth: spec.beamWidth ?? 4,
    lookahead: spec.lookahead ?? 0,
    select: spec.select ?? (spec.method === "weighted-bon" ? "weighted" : "best"),
    cPuct: spec.cPuct ?? 1,
    aggregation: spec.aggregation ?? "last",
    maxSteps: spec.maxSteps ?? 32,
    seed: spec.seed ?? 0,
    policy: policyName,
    scorer: scorerName,
  };
  return JSON.stringify(settings);
}

/** The key of a question at a position of a run. */
export function questionKey(index: number, question: Question): string {
  const hash = createHash("sha256").update(question.text).digest("hex").slice(0, 16);
  return `${index}:${question.id}:${hash}`;
}

/** Adds up compute records. */
export function sumCompute(records: readonly SearchCompute[]): SearchCompute {
  const total: SearchCompute = {
    generatedTokens: 0,
    promptTokens: 0,
    policyCalls: 0,
    prmCalls: 0,
    scoredTrajectories: 0,
    scoredTokens: 0,
    nodes: 0,
    policyMs: 0,
    prmMs: 0,
    totalMs: 0,
  };
  for (const record of records) {
    for (const key of Object.keys(total) as Array<keyof SearchCompute>) total[key] += record[key];
  }
  return total;
}

/**
 * Searches every question and returns each one's answer, tree and compute, in question order.
 * With `output`, rows are appended as questions finish and a rerun resumes (see the option).
 * Throws a {@link SearchResultsMismatchError} naming the file and line when the output holds rows of another run, and the
 * policy's or scorer's errors as they come (finished rows stay in the file). Aborted by `signal`, the
 * questions in flight are abandoned and it rejects with @pqm/data's `InterruptedError` (name
 * `AbortError`, cause the signal's reason) whose `saved` is a {@link SearchSaved}.
 */
export async function runSearch(options: RunSearchOptions): Promise<SearchRun> {
  validateSearchSpec(options.spec);
  const scorer =
    options.scorer instanceof MeteredScorer
      ? options.scorer
      : new MeteredScorer(
          options.scorer,
          options.countTokens === undefined ? {} : { countTokens: options.countTokens },
        );
  const run = searchFingerprint(options.spec, options.policy.name, scorer.name);
  const keys = options.questions.map((question, index) => questionKey(index, question));
  const byKey = new Map<string, QuestionResult>();
  let writer: ResumableJsonlWriter<QuestionResult> | undefined;
  if (options.output !== undefined) {
    const opened = await ResumableJsonlWriter.open<QuestionResult>(options.output);
    writer = opened.writer;
    const wanted = new Set(keys);
    const foreign = opened.rows.findIndex((row) => row.run !== run);
    if (foreign >= 0) {
      await writer.close();
      throw new SearchResultsMismatchError(options.output, foreign + 1, opened.rows[foreign]!.run, run);
    }
    for (const row of opened.rows) if (wanted.has(row.key)) byKey.set(row.key, row);
  }
  const resumed = byKey.size;
  const isCorrect =
    options.isCorrect ??
    ((answer: string | null, question: Question) => isEquivalent(answer, question.answer, question.domain));
  const progress: SearchProgress = {
    done: 0,
    total: options.questions.length,
    resumed,
    correct: 0,
    generatedTokens: 0,
  };
  const count = (result: QuestionResult) => {
    progress.done += 1;
    if (result.correct === true) progress.correct += 1;
    progress.generatedTokens += result.compute.generatedTokens;
  };
  for (const result of byKey.values()) count(result);
  if (resumed > 0) options.onProgress?.({ ...progress });
  const limiter = new ConcurrencyLimiter(options.concurrency ?? 1);
  // The first failure stops the questions in flight and those waiting, so none outlives the call.
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  // Every question waiting and every request in flight listens on it: hundreds at once are expected.
  setMaxListeners(0, signal);
  let failure: { error: unknown } | undefined;
  try {
    await Promise.allSettled(
      options.questions.map(async (question, index) => {
        const key = keys[index]!;
        if (byKey.has(key)) return;
        try {
          await limiter.run(() => search(question, index, key), signal);
        } catch (error) {
          failure ??= { error: options.signal?.aborted ? options.signal.reason : error };
          stop.abort(error);
        }
      }),
    );
  } finally {
    await writer?.close();
  }
  if (failure !== undefined) {
    if (options.signal?.aborted) {
      const done = progress.done;
      const kept =
        options.output === undefined
          ? `${done} of ${progress.total} questions were done (no output file: nothing kept)`
          : `kept ${done} of ${progress.total} questions in ${options.output}`;
      throw new InterruptedError<SearchSaved>(options.signal.reason, kept, {
        ...(options.output === undefined ? {} : { output: options.output }),
        finished: done,
        total: progress.total,
        resumed,
      });
    }
    throw failure.error;
  }
  const results = keys.map((key) => byKey.get(key)!);
  return { results, summary: summarize(results, resumed) };

  async function search(question: Question, index: number, key: string): Promise<void> {
    const outcome = await searchQuestion(question, options.policy, scorer, { ...options.spec, signal });
    const extra = options.annotate?.(question, outcome);
    const result: QuestionResult = {
      index,
      questionId: question.id,
      key,
      run,
      answer: outcome.answer,
      correct:
        question.answer === null && question.domain === "math" ? null : isCorrect(outcome.answer, question),
      chosen: outcome.chosen,
      candidates: outcome.candidates,
      unfinished: outcome.unfinished,
      compute: outcome.compute,
      nodes: outcome.nodes,
      ...(extra === undefined ? {} : { extra }),
    };
    await writer?.append(result);
    byKey.set(key, result);
    count(result);
    options.onProgress?.({ ...progress });
  }
}

/** The summary of a run's results. */
export function summarize(results: readonly QuestionResult[], resumed = 0): SearchRunSummary {
  const graded = results.filter((result) => result.correct !== null).length;
  const correct = results.filter((result) => result.correct === true).length;
  const compute = sumCompute(results.map((result) => result.compute));
  return {
    questions: results.length,
    graded,
    correct,
    accuracy: graded === 0 ? Number.NaN : correct / graded,
    generatedTokens: compute.generatedTokens,
    meanGeneratedTokens: results.length === 0 ? 0 : compute.generatedTokens / results.length,
    compute,
    resumed,
  };
}
