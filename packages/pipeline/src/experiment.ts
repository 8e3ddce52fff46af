import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core";
import { ArithEnvironment, arithMonteCarloCorpus } from "@pqm/data";
import { type CurvePoint, type ExperimentReportFiles, writeExperimentReport } from "@pqm/eval";
import { type MachineInfo, machineInfo } from "./demo.js";
import { evaluateModel, sampleTestCandidates } from "./demo-evaluation.js";
import { followSignal } from "./follow-signal.js";
import type { PipelineEvent, RunOptions } from "./progress.js";
import { type DemoRecipe, resolveDemoRecipe } from "./recipe.js";
import { openRunFolder, RunLedger } from "./run-state.js";
import type { TrainJob } from "./train-and-score.js";
import { runTrainJobs } from "./train-jobs.js";

/** The paper's ablations and open questions, in miniature. */
export const experimentNames = ["zeta", "annotation", "sample-efficiency", "loss-variants"] as const;
/**
 * `zeta`: the PQM margin swept over 0, 0.5, 1, 2, 4, 8, 16. `annotation`: PQM and BCE trained on
 * Monte-Carlo labels with N = 1, 2, 4, 8, 16 rollouts and on exact labels. `sample-efficiency`: PQM and
 * BCE on 1/8, 1/4, 1/2 and all of the training questions. `loss-variants`: every loss of @pqm/core.
 */
export type ExperimentName = (typeof experimentNames)[number];

/** The zeta values of the `zeta` experiment. */
export const experimentZetas: readonly number[] = [0, 0.5, 1, 2, 4, 8, 16];
/** The rollout counts of the `annotation` experiment (plus exact labels). */
export const experimentRolloutCounts: readonly number[] = [1, 2, 4, 8, 16];
/** The losses of the `loss-variants` experiment. */
export const experimentLosses: readonly string[] = [
  "pqm",
  "pqm-paper",
  "pqm-theory",
  "pqm-ablation",
  "bce",
  "mse",
  "orm",
];

/** One trained model of an experiment and what it achieved on the held-out candidates. */
export interface ExperimentRow {
  /** What varies, as shown in tables (`zeta=4`, `pqm, MC N=8`, `bce, 200 questions`, `pqm-theory`). */
  variant: string;
  /** The x value of the plot. */
  x: string;
  loss: string;
  zeta: number | null;
  labels: "hard" | "soft";
  /** Where the training labels came from: Monte-Carlo with N rollouts, or exact. */
  labelSource: string;
  trainTrajectories: number;
  bestOfN: CurvePoint[];
  /** Step AUROC against the exact process labels of the held-out candidates. */
  stepAuroc: number;
  /** Spearman correlation with the exact Q-values (all steps pooled). */
  spearman: number;
  /** Share of candidates whose scores follow the Theorem 3.5 ordering. */
  orderingShare: number | null;
  validationAuroc: number | null;
  trainSeconds: number;
}

/** Everything an experiment found: the numbers `pqm experiment` prints, and what its results.json holds. */
export interface ExperimentResults {
  format: "pqm-experiment/1";
  experiment: ExperimentName;
  createdAt: string;
  command: string;
  machine: Omit<MachineInfo, "platform">;
  /** The recipe as run. */
  config: DemoRecipe;
  seed: number;
  /** One row per model, in variant order. */
  rows: ExperimentRow[];
  seconds: number;
}

/** Options of {@link runExperiment}. */
export interface ExperimentOptions extends RunOptions {
  experiment: ExperimentName;
  /** Laid over {@link defaultDemoRecipe} (top-level fields); the experiment runs once, with `recipe.seed`. */
  recipe?: Partial<DemoRecipe>;
  /** Only two variants (zeta 0 and 4; pqm and bce; the two largest sizes; N = 1 and 4 plus exact): a smoke run. */
  quick?: boolean;
}

/** What {@link runExperiment} returns. */
export interface ExperimentRun {
  results: ExperimentResults;
  /** The report files in `out`; null without `out`. */
  files: ExperimentReportFiles | null;
}

interface Variant {
  variant: string;
  x: string;
  loss: string;
  zeta?: number;
  labels?: "hard" | "soft";
  labelSource: string;
  corpus: LabeledTrajectory[];
}

/** The first `questions` questions' trajectories of a corpus ordered by question. */
function firstQuestions(corpus: readonly LabeledTrajectory[], questions: number): LabeledTrajectory[] {
  const kept = new Set<string>();
  return corpus.filter((trajectory) => {
    if (kept.has(trajectory.question.id)) return true;
    if (kept.size >= questions) return false;
    kept.add(trajectory.question.id);
    return true;
  });
}

async function variantsOf(
  experiment: ExperimentName,
  environment: ArithEnvironment,
  recipe: DemoRecipe,
  outDir: string | undefined,
  quick: boolean,
  options: RunOptions,
  ledger: RunLedger,
): Promise<Variant[]> {
  const seed = recipe.seed;
  const monteCarlo = async (n: number) => {
    const unit = `annotation N=${n}`;
    const { corpus } = await arithMonteCarloCorpus(environment, {
      questions: recipe.trainQuestions,
      samplesPerQuestion: recipe.samplesPerQuestion,
      n,
      ...(outDir !== undefined ? { output: join(outDir, `annotations-n${n}.jsonl`) } : {}),
      sampleSeed: seed,
      seed,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (progress) => {
        ledger.progress(unit, `${progress.doneRows} of ${progress.totalRows} rows`);
        options.onProgress?.({ type: "annotation", seed, rollouts: n, progress });
      },
    });
    options.signal?.throwIfAborted();
    ledger.done(unit);
    return corpus;
  };
  const base = `MC N=${recipe.rollouts}`;
  switch (experiment) {
    case "zeta": {
      const corpus = await monteCarlo(recipe.rollouts);
      return (quick ? [0, 4] : experimentZetas).map((zeta) => ({
        variant: `zeta=${zeta}`,
        x: String(zeta),
        loss: "pqm",
        zeta,
        labelSource: base,
        corpus,
      }));
    }
    case "loss-variants": {
      const corpus = await monteCarlo(recipe.rollouts);
      return (quick ? ["pqm", "bce"] : experimentLosses).map((loss) => ({
        variant: loss,
        x: loss,
        loss,
        labelSource: base,
        corpus,
      }));
    }
    case "sample-efficiency": {
      const corpus = await monteCarlo(recipe.rollouts);
      const sizes = [1 / 8, 1 / 4, 1 / 2, 1].map((share) =>
        Math.max(2, Math.round(share * recipe.trainQuestions)),
      );
      return (quick ? sizes.slice(-2) : sizes).flatMap((questions) =>
        ["pqm", "bce"].map((loss) => ({
          variant: `${loss}, ${questions} questions`,
          x: String(questions),
          loss,
          labelSource: base,
          corpus: firstQuestions(corpus, questions),
        })),
      );
    }
    case "annotation": {
      const sources: { x: string; labelSource: string; corpus: LabeledTrajectory[] }[] = [];
      for (const n of quick ? [1, 4] : experimentRolloutCounts) {
        sources.push({ x: `N=${n}`, labelSource: `MC N=${n}`, corpus: await monteCarlo(n) });
      }
      sources.push({
        x: "exact",
        labelSource: "exact",
        corpus: environment.exactTrainingCorpus({
          questions: recipe.trainQuestions,
          samplesPerQuestion: recipe.samplesPerQuestion,
          sampleSeed: seed,
        }),
      });
      return sources.flatMap((source) =>
        ["pqm", "bce"].map((loss) => ({ variant: `${loss}, ${source.labelSource}`, loss, ...source })),
      );
    }
  }
}

/**
 * Runs one experiment on the built-in arith environment: the variants' models are trained from scratch
 * with the same budget (two at a time, one worker thread each, when the recipe is `parallel`), scored
 * on the same held-out candidates and compared by best-of-n, step AUROC against the exact labels,
 * Spearman with the exact Q-values and the Theorem 3.5 ordering share. With `out`, also writes the
 * training corpora, metrics and the report (`results.json`, `report.md`, `index.html`, the plot),
 * and resumes what an earlier run of the same experiment and recipe left there (see `overwrite`).
 * @throws RangeError for a bad recipe field or experiment name; `RunMismatchError` when `out` holds
 *   another run; an `InterruptedError` (whose `saved` says what was kept) when the signal aborts it.
 */
export async function runExperiment(options: ExperimentOptions): Promise<ExperimentRun> {
  const started = performance.now();
  if (!(experimentNames as readonly string[]).includes(options.experiment)) {
    throw new RangeError(`experiment '${options.experiment}' is not one of ${experimentNames.join(", ")}`);
  }
  const recipe = resolveDemoRecipe(options.recipe);
  const followed = followSignal(options.signal);
  const ledger = new RunLedger(options.out);
  try {
    if (options.out !== undefined) {
      const settings = {
        run: "experiment",
        experiment: options.experiment,
        quick: options.quick ?? false,
        recipe,
      };
      await openRunFolder(options.out, settings, options.overwrite ?? false);
    }
    return await experimentRun(recipe, { ...options, signal: followed.signal }, started, ledger);
  } catch (error) {
    if (options.signal?.aborted) throw ledger.interrupted(options.signal.reason);
    throw error;
  } finally {
    followed.dispose();
  }
}

async function experimentRun(
  recipe: DemoRecipe,
  options: ExperimentOptions,
  started: number,
  ledger: RunLedger,
): Promise<ExperimentRun> {
  const { experiment, out, signal } = options;
  const seed = recipe.seed;
  const emit = (event: PipelineEvent) => options.onProgress?.(event);
  signal?.throwIfAborted();
  if (out !== undefined) await mkdir(out, { recursive: true });
  const environment = new ArithEnvironment({ seed, problems: recipe.problems, policy: recipe.policy });
  let stageStarted = performance.now();
  emit({ type: "stage-start", seed, stage: "label" });
  signal?.throwIfAborted();
  const variants = await variantsOf(
    experiment,
    environment,
    recipe,
    out,
    options.quick ?? false,
    options,
    ledger,
  );
  const test = sampleTestCandidates(environment, recipe, seed);
  emit({ type: "stage-end", seed, stage: "label", seconds: (performance.now() - stageStarted) / 1000 });
  const firstCorpus = variants[0]?.corpus ?? [];
  const tokenizerCorpus = [
    ...firstCorpus.map((trajectory) => `${trajectory.question.text} ${trajectory.steps.join(" ")}`),
    ...environment.trainQuestions(200, recipe.trainQuestions).map((question) => question.text),
  ];
  const candidates = test.solutions
    .flat()
    .map((solution) => ({ question: solution.question, steps: solution.steps }));
  const jobs: TrainJob[] = variants.map((variant, index) => ({
    loss: variant.loss,
    name: `${index}-${variant.variant.replace(/[^\w.=-]+/g, "_")}`,
    ...(variant.zeta !== undefined ? { zeta: variant.zeta } : {}),
    labels: variant.labels ?? "hard",
    corpus: variant.corpus,
    candidates,
    tokenizerCorpus,
    config: recipe,
    seed,
    ...(out !== undefined ? { outDir: out } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
  }));
  stageStarted = performance.now();
  emit({ type: "stage-start", seed, stage: "train", models: jobs.length });
  const trained = await runTrainJobs(jobs, {
    parallel: recipe.parallel,
    seed,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.workerSetup ? { workerSetup: options.workerSetup } : {}),
    ...(signal ? { signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    onResult: (job) => ledger.done(`model ${job.name ?? job.loss}`),
  });
  emit({ type: "stage-end", seed, stage: "train", seconds: (performance.now() - stageStarted) / 1000 });
  const rows = trained.map((result, index): ExperimentRow => {
    const variant = variants[index]!;
    const evaluation = evaluateModel(
      result,
      test,
      { ...recipe, zeta: variant.zeta ?? recipe.zeta },
      seed,
    ).result;
    return {
      variant: variant.variant,
      x: variant.x,
      loss: variant.loss,
      zeta: variant.loss.startsWith("pqm") ? (variant.zeta ?? recipe.zeta) : null,
      labels: variant.labels ?? "hard",
      labelSource: variant.labelSource,
      trainTrajectories: variant.corpus.length,
      bestOfN: evaluation.bestOfN,
      stepAuroc: evaluation.stepLabels.auroc,
      spearman: evaluation.qValues.spearmanPooled,
      orderingShare: evaluation.qValues.orderingShare,
      validationAuroc: evaluation.validationAuroc,
      trainSeconds: evaluation.trainSeconds,
    };
  });
  const { platform: _platform, ...machine } = machineInfo();
  const results: ExperimentResults = {
    format: "pqm-experiment/1",
    experiment,
    createdAt: new Date().toISOString(),
    command: options.command ?? "@pqm/pipeline",
    machine,
    config: recipe,
    seed,
    rows,
    seconds: (performance.now() - started) / 1000,
  };
  signal?.throwIfAborted();
  const files =
    out === undefined
      ? null
      : await writeExperimentReport(out, results, {
          series: experiment === "annotation" || experiment === "sample-efficiency" ? "loss" : "model",
        });
  return { results, files };
}
