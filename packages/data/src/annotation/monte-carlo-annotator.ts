import { createHash } from "node:crypto";
import type {
  AnswerEquivalence,
  AnswerExtractor,
  HardLabel,
  LabeledTrajectory,
  Policy,
  PolicyCompletion,
  PolicySampleOptions,
  Question,
  Step,
  Trajectory,
} from "@pqm/core/reference";
import { deriveSeed } from "@pqm/core/reference";
import { extractAnswer, isEquivalent } from "../answers/index.js";
import { toMathShepherdRow } from "../formats/index.js";
import { ResumableJsonlWriter } from "../formats/resumable-jsonl.js";
import { ConcurrencyLimiter } from "../http/concurrency-limiter.js";
import { checkAnnotationRun, removeAnnotationRun } from "./annotation-run.js";

/** What a consensus judge sees for one labelled trajectory. */
export interface AnnotationJudgeInput {
  trajectory: Trajectory;
  hardLabels: HardLabel[];
  softLabels: Array<number | null>;
  rollouts: number[];
}

/** A judge's decision: keep the Monte-Carlo labels, drop the row, or replace its hard labels. */
export type AnnotationJudgeVerdict =
  | { action: "accept" }
  | { action: "veto"; reason: string }
  | { action: "relabel"; hardLabels: HardLabel[]; reason?: string };

/** A second judge for consensus filtering (e.g. an LLM critic); it may veto or relabel a row. */
export type AnnotationJudge = (
  input: AnnotationJudgeInput,
) => AnnotationJudgeVerdict | Promise<AnnotationJudgeVerdict>;

/** How the annotator chooses which steps to roll out from. */
export type AnnotationSearch = "all" | "first-error";

/** One labelled row of the annotator's JSONL output (also a valid Math-Shepherd row). */
export interface AnnotatedRow {
  /** Identifies the input row: a hash of its position, question and steps. */
  key: string;
  /** 0-based position in the input. */
  index: number;
  /** `vetoed`: the judge rejected the labels; the row is kept so a rerun does not redo it. */
  status: "ok" | "vetoed";
  question: Question;
  steps: Step[];
  hardLabels: HardLabel[];
  /** Fraction of rollouts that reached the gold answer; null for steps labelled without rollouts by search. */
  softLabels: Array<number | null>;
  /** Rollouts sampled from each step's prefix (0 where the label needed none). */
  rollouts: number[];
  /** Of those, how many reached the gold answer. */
  successes: number[];
  promptTokens: number[];
  completionTokens: number[];
  /** In first-error search, the 0-based first step without a successful rollout (null: none). */
  firstError?: number | null;
  /** The input's own labels, when it had some. */
  inputLabels?: HardLabel[];
  judge?: { action: "relabel" | "veto"; reason?: string };
  /** Math-Shepherd fields (`input`, `label`, `task`, `soft_label`), present when the steps allow them. */
  input?: string;
  label?: string;
  task?: string;
  soft_label?: number[];
}

/** A row that could not be labelled (completer errors after retries). */
export interface AnnotationFailure {
  key: string;
  index: number;
  questionId: string;
  reason: string;
}

/**
 * Progress of an annotation run, given to `onProgress`: one `start` once the output has been read
 * (resumed rows counted), a `row` after each row is written or has failed, and one `end` when the
 * run stops (every row done, or aborted); `annotate` then returns.
 */
export interface AnnotationProgress {
  type: "start" | "row" | "end";
  totalRows: number;
  /** Rows found finished in the output at start. */
  resumedRows: number;
  doneRows: number;
  failedRows: number;
  rollouts: number;
  labeledSteps: number;
  elapsedSeconds: number;
}

/** Options of `annotate`. */
export interface AnnotateOptions {
  /** The completer that continues each prefix (any `Policy`: the arith policy, an HTTP client...). */
  completer: Policy;
  /** Rollouts per step prefix (default 8, Math-Shepherd's N). */
  n?: number;
  /** JSONL output, appended row by row; rows already there are skipped (resume). In memory when absent. */
  output?: string;
  /** Failed rows go here, one JSON line each (default `<output>.failures.jsonl`). */
  failuresOutput?: string;
  /** Most completer calls in flight at once (default 8). */
  concurrency?: number;
  /** Stop a step's rollouts at the first success: the hard label is then decided (soft labels become biased). */
  earlyStop?: boolean;
  /** Rollouts asked for per completer call (default n, or 1 with `earlyStop`). */
  batchSize?: number;
  /**
   * `all` rolls out every step; `first-error` (OmegaPRM-style) binary-searches the first step
   * whose prefix has no successful rollout and labels the rest by monotonicity of hard labels.
   */
  search?: AnnotationSearch;
  /** Answer checker (default: the answers module's `isEquivalent`). */
  checker?: AnswerEquivalence;
  /** Final-answer extractor for whole solutions (default: the answers module's `extractAnswer`). */
  extractor?: AnswerExtractor;
  /** Roll out the last step too instead of checking the solution's own answer (default false). */
  rolloutLastStep?: boolean;
  /** Consensus filter called once per labelled row. */
  judge?: AnnotationJudge;
  /** Retries of a failed completer call before the row fails (default 2). */
  retries?: number;
  /** Base delay before a retry in ms, doubled each time, with jitter (default 200). */
  retryDelayMs?: number;
  /** Label a step from the rollouts that did return when some calls failed (default false). */
  allowPartial?: boolean;
  /** Seeds every rollout request: `deriveSeed(seed, row key, step, batch)` (default 0). */
  seed?: number;
  /** Passed to the completer with every call. */
  sampling?: Omit<PolicySampleOptions, "n" | "seed" | "signal">;
  /** Stops the run: unfinished rows are neither written nor reported as failed. */
  signal?: AbortSignal;
  /**
   * Start over: delete `output`, its failures file and `<output>.run.json` first. Without it, an output
   * written with other settings (`n`, search, seed, completer, ...) is refused with
   * `AnnotationRunMismatchError` instead of being resumed.
   */
  overwrite?: boolean;
  /** Told about progress (see `AnnotationProgress`); nothing is printed, showing it is the caller's choice. */
  onProgress?: (progress: AnnotationProgress) => void;
  /** Called after each row is written (the output file already holds it). */
  onRow?: (row: AnnotatedRow) => void;
}

/** What an annotation run did. */
export interface AnnotationSummary {
  totalRows: number;
  resumedRows: number;
  /** Rows labelled and written by this run (status ok or vetoed). */
  writtenRows: number;
  vetoedRows: number;
  relabeledRows: number;
  failures: AnnotationFailure[];
  /** True when the signal stopped the run before every row was done. */
  aborted: boolean;
  /** A partial last line found in the output and removed before resuming. */
  droppedPartialLine: boolean;
  rollouts: number;
  /** Rollouts the same rows would have needed with `search: "all"` and no early stop. */
  fullRollouts: number;
  labeledSteps: number;
  promptTokens: number;
  completionTokens: number;
  rolloutsPerLabeledStep: number;
  tokensPerLabeledStep: number;
  seconds: number;
  labeledStepsPerSecond: number;
}

/** The result of `annotate`: its summary and every finished row (resumed and new), by input index. */
export interface AnnotationResult {
  summary: AnnotationSummary;
  rows: AnnotatedRow[];
}

class RowFailedError extends Error {}

interface StepTally {
  rollouts: number;
  successes: number;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Math-Shepherd automatic process annotation (see docs/method.md, section 6): for every step prefix of every
 * trajectory the completer continues the solution `n` times; the hard label is 1 when any
 * continuation reaches the gold answer, the soft label is the fraction that do. Rows are appended
 * to `output` as they finish (fsync per row), so a killed run resumes where it stopped; failed rows
 * are reported with their reason and never labelled from partial evidence unless `allowPartial`.
 *
 * Throws a RangeError on bad options, a DataFormatError when the existing output is damaged before
 * its last line; completer errors do not throw (they fail their row).
 */
export async function annotate(
  trajectories: ReadonlyArray<Trajectory | LabeledTrajectory>,
  options: AnnotateOptions,
): Promise<AnnotationResult> {
  const n = options.n ?? 8;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`annotate: n must be a positive integer, got ${n}`);
  const concurrency = options.concurrency ?? 8;
  const limiter = new ConcurrencyLimiter(concurrency);
  const batchSize = options.batchSize ?? (options.earlyStop ? 1 : n);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`annotate: bad batchSize ${batchSize}`);
  const checker = options.checker ?? isEquivalent;
  const extractor = options.extractor ?? extractAnswer;
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const search = options.search ?? "all";
  const seed = options.seed ?? 0;
  const started = performance.now();

  const keys = trajectories.map((trajectory, index) => rowKey(trajectory, index));
  let writer: ResumableJsonlWriter<AnnotatedRow> | undefined;
  let failureWriter: ResumableJsonlWriter<AnnotationFailure> | undefined;
  const finished = new Map<string, AnnotatedRow>();
  let droppedPartialLine = false;
  if (options.output !== undefined) {
    const failuresOutput = options.failuresOutput ?? `${options.output}.failures.jsonl`;
    if (options.overwrite === true) await removeAnnotationRun(options.output, failuresOutput);
    await checkAnnotationRun(options.output, {
      completer: options.completer.name,
      n,
      search,
      seed,
      earlyStop: options.earlyStop === true,
      batchSize,
      rolloutLastStep: options.rolloutLastStep === true,
      allowPartial: options.allowPartial === true,
      sampling: { ...(options.sampling ?? {}) },
    });
    const opened = await ResumableJsonlWriter.open<AnnotatedRow>(options.output);
    writer = opened.writer;
    droppedPartialLine = opened.droppedPartialLine;
    const wanted = new Set(keys);
    for (const row of opened.rows) if (wanted.has(row.key)) finished.set(row.key, row);
    failureWriter = (await ResumableJsonlWriter.open<AnnotationFailure>(failuresOutput)).writer;
  }
  const resumedRows = finished.size;

  const summary: AnnotationSummary = {
    totalRows: trajectories.length,
    resumedRows,
    writtenRows: 0,
    vetoedRows: 0,
    relabeledRows: 0,
    failures: [],
    aborted: false,
    droppedPartialLine,
    rollouts: 0,
    fullRollouts: 0,
    labeledSteps: 0,
    promptTokens: 0,
    completionTokens: 0,
    rolloutsPerLabeledStep: 0,
    tokensPerLabeledStep: 0,
    seconds: 0,
    labeledStepsPerSecond: 0,
  };
  const progress = (type: AnnotationProgress["type"]): void =>
    options.onProgress?.({
      type,
      totalRows: summary.totalRows,
      resumedRows: summary.resumedRows,
      doneRows: summary.resumedRows + summary.writtenRows,
      failedRows: summary.failures.length,
      rollouts: summary.rollouts,
      labeledSteps: summary.labeledSteps,
      elapsedSeconds: (performance.now() - started) / 1000,
    });
  progress("start");

  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        options.signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(options.signal?.reason);
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });

  const callCompleter = async (question: Question, prefix: Step[], count: number, callSeed: number) => {
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      options.signal?.throwIfAborted();
      try {
        return await limiter.run(
          () =>
            options.completer.complete(question, prefix, {
              ...options.sampling,
              n: count,
              seed: callSeed,
              ...(options.signal === undefined ? {} : { signal: options.signal }),
            }),
          options.signal,
        );
      } catch (error) {
        if (options.signal?.aborted) throw error;
        lastError = error;
        if (attempt < retries) await sleep(retryDelayMs * 2 ** attempt * (0.5 + Math.random()));
      }
    }
    throw lastError;
  };

  const labelRow = async (
    trajectory: Trajectory | LabeledTrajectory,
    index: number,
  ): Promise<AnnotatedRow> => {
    const key = keys[index] as string;
    const { question, steps } = trajectory;
    if (steps.length === 0) throw new RowFailedError("the trajectory has no steps");
    const total = steps.length;
    const tallies: StepTally[] = steps.map(() => ({
      rollouts: 0,
      successes: 0,
      promptTokens: 0,
      completionTokens: 0,
    }));
    const soft: Array<number | null> = steps.map(() => null);
    const known = new Map<number, boolean>();
    const fullText = steps.map((step, i) => `Step ${i + 1}: ${step}`).join("\n");

    const successOf = (completion: PolicyCompletion): boolean => {
      const answer =
        completion.finalAnswer ??
        (completion.text.trim() === "" ? extractor(fullText, question.domain) : null);
      return checker(answer, question.answer, question.domain);
    };

    // Rolls out from the prefix ending at step t (0-based); returns whether any rollout succeeded.
    const estimate = async (t: number): Promise<boolean> => {
      const cached = known.get(t);
      if (cached !== undefined) return cached;
      const tally = tallies[t] as StepTally;
      const prefix = steps.slice(0, t + 1);
      let batch = 0;
      while (tally.rollouts < n) {
        const count = Math.min(batchSize, n - tally.rollouts);
        let completions: PolicyCompletion[];
        try {
          completions = await callCompleter(question, prefix, count, deriveSeed(seed, key, t, batch++));
        } catch (error) {
          if (options.signal?.aborted) throw error;
          if (options.allowPartial && tally.rollouts > 0) break;
          throw new RowFailedError(`step ${t + 1}: ${errorMessage(error)}`);
        }
        for (const completion of completions) {
          tally.rollouts++;
          if (successOf(completion)) tally.successes++;
          tally.promptTokens += completion.usage?.promptTokens ?? 0;
          tally.completionTokens += completion.usage?.completionTokens ?? 0;
        }
        if (completions.length === 0)
          throw new RowFailedError(`step ${t + 1}: the completer returned no completions`);
        if (options.earlyStop && tally.successes > 0) break;
      }
      soft[t] = tally.successes / tally.rollouts;
      known.set(t, tally.successes > 0);
      return tally.successes > 0;
    };

    const rolledSteps = options.rolloutLastStep ? total : total - 1;
    if (!options.rolloutLastStep) {
      // The last step ends the solution: its label is whether the solution's own answer is right.
      const correct = checker(extractor(fullText, question.domain), question.answer, question.domain);
      known.set(total - 1, correct);
      soft[total - 1] = correct ? 1 : 0;
    }

    let hardLabels: HardLabel[];
    let firstError: number | null | undefined;
    if (search === "all") {
      await Promise.all(Array.from({ length: rolledSteps }, (_, t) => estimate(t)));
      hardLabels = steps.map((_, t) => (known.get(t) ? 1 : 0));
    } else {
      // Hard labels are monotone (a prefix that can reach the answer extends one that can), so
      // the first failing prefix is found by bisection over [lo, hi), hi = "no failing step".
      let lo = 0;
      let hi = total;
      if (!options.rolloutLastStep) {
        if (known.get(total - 1)) lo = total;
        else hi = total - 1;
      }
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (await estimate(mid)) lo = mid + 1;
        else hi = mid;
      }
      firstError = lo < total ? lo : null;
      hardLabels = steps.map((_, t) => (t < lo ? 1 : 0));
    }

    const row: AnnotatedRow = {
      key,
      index,
      status: "ok",
      question,
      steps: [...steps],
      hardLabels,
      softLabels: soft,
      rollouts: tallies.map((tally) => tally.rollouts),
      successes: tallies.map((tally) => tally.successes),
      promptTokens: tallies.map((tally) => tally.promptTokens),
      completionTokens: tallies.map((tally) => tally.completionTokens),
    };
    if (firstError !== undefined) row.firstError = firstError;
    if ("hardLabels" in trajectory) row.inputLabels = [...trajectory.hardLabels];

    if (options.judge !== undefined) {
      const verdict = await options.judge({
        trajectory,
        hardLabels,
        softLabels: soft,
        rollouts: row.rollouts,
      });
      if (verdict.action === "veto") {
        row.status = "vetoed";
        row.judge = { action: "veto", reason: verdict.reason };
      } else if (verdict.action === "relabel") {
        if (
          verdict.hardLabels.length !== total ||
          verdict.hardLabels.some((label) => label !== 0 && label !== 1)
        ) {
          throw new RowFailedError(
            `the judge relabelled with ${verdict.hardLabels.length} labels for ${total} steps`,
          );
        }
        row.hardLabels = [...verdict.hardLabels];
        row.judge =
          verdict.reason === undefined
            ? { action: "relabel" }
            : { action: "relabel", reason: verdict.reason };
      }
    }
    addMathShepherdFields(row);
    summary.fullRollouts += rolledSteps * n;
    return row;
  };

  const queue = trajectories
    .map((trajectory, index) => ({ trajectory, index }))
    .filter(({ index }) => !finished.has(keys[index] as string));
  let next = 0;
  const worker = async () => {
    while (next < queue.length && !options.signal?.aborted) {
      const { trajectory, index } = queue[next++] as (typeof queue)[number];
      const key = keys[index] as string;
      try {
        const row = await labelRow(trajectory, index);
        if (options.signal?.aborted) return;
        await writer?.append(row);
        finished.set(key, row);
        summary.writtenRows++;
        if (row.status === "vetoed") summary.vetoedRows++;
        if (row.judge?.action === "relabel") summary.relabeledRows++;
        if (row.status === "ok") summary.labeledSteps += row.steps.length;
        summary.rollouts += sum(row.rollouts);
        summary.promptTokens += sum(row.promptTokens);
        summary.completionTokens += sum(row.completionTokens);
        options.onRow?.(row);
      } catch (error) {
        if (options.signal?.aborted) return;
        if (!(error instanceof RowFailedError)) throw error;
        const failure: AnnotationFailure = {
          key,
          index,
          questionId: trajectory.question.id,
          reason: error.message,
        };
        summary.failures.push(failure);
        await failureWriter?.append(failure);
      }
      progress("row");
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(queue.length, 1)) }, worker));
  } finally {
    await writer?.close();
    await failureWriter?.close();
  }
  summary.aborted =
    options.signal?.aborted === true && finished.size + summary.failures.length < trajectories.length;
  summary.seconds = (performance.now() - started) / 1000;
  summary.rolloutsPerLabeledStep = summary.labeledSteps === 0 ? 0 : summary.rollouts / summary.labeledSteps;
  summary.tokensPerLabeledStep =
    summary.labeledSteps === 0 ? 0 : (summary.promptTokens + summary.completionTokens) / summary.labeledSteps;
  summary.labeledStepsPerSecond = summary.seconds === 0 ? 0 : summary.labeledSteps / summary.seconds;
  progress("end");
  const rows = [...finished.values()].sort((a, b) => a.index - b.index);
  return { summary, rows };
}

/** The key `annotate` gives the trajectory at `index`: a hash of position, question and steps. */
export function rowKey(trajectory: Trajectory, index: number): string {
  return createHash("sha256")
    .update(JSON.stringify([index, trajectory.question.id, trajectory.question.text, trajectory.steps]))
    .digest("hex")
    .slice(0, 20);
}

/**
 * An annotated row as a `LabeledTrajectory` (soft labels only when every step has one), or
 * undefined for a vetoed row.
 */
export function annotatedRowToTrajectory(row: AnnotatedRow): LabeledTrajectory | undefined {
  if (row.status !== "ok") return undefined;
  const trajectory: LabeledTrajectory = {
    question: row.question,
    steps: row.steps,
    hardLabels: row.hardLabels,
  };
  if (row.softLabels.every((value) => value !== null)) trajectory.softLabels = row.softLabels as number[];
  return trajectory;
}

function addMathShepherdFields(row: AnnotatedRow): void {
  const trajectory = annotatedRowToTrajectory({ ...row, status: "ok" });
  if (trajectory === undefined) return;
  try {
    const shepherd = toMathShepherdRow(trajectory, { file: "annotation", line: row.index + 1 });
    row.input = shepherd.input;
    row.label = shepherd.label;
    row.task = shepherd.task;
    if (shepherd.soft_label !== undefined) row.soft_label = shepherd.soft_label;
  } catch {
    // Steps that contain a `Step N:` header or the tag cannot be a Math-Shepherd row; the
    // annotator's own fields still carry everything.
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
