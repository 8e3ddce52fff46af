import { mkdir } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { ArithEnvironment, arithMonteCarloCorpus } from "@pqm/data";
import { type BestOfNResult, type DemoReportFiles, type DemoSummary, writeDemoReport } from "@pqm/eval";
import { evaluateArithSearch, oracleScorer, type SearchSpec } from "@pqm/search";
import {
  type DemoSeedResult,
  evaluateModel,
  labelQuality,
  type StageTime,
  sampleTestCandidates,
  type TestCandidates,
} from "./demo-evaluation.js";
import { demoVerdict, summarizeDemo } from "./demo-summary.js";
import { followSignal } from "./follow-signal.js";
import { type ModelReportLink, writeModelReports } from "./model-reports.js";
import type { PipelineEvent, RunOptions } from "./progress.js";
import { type DemoRecipe, resolveDemoRecipe } from "./recipe.js";
import { openRunFolder, RunLedger } from "./run-state.js";
import type { SearchJob, TrainJob } from "./train-and-score.js";
import { runTrainJobs } from "./train-jobs.js";

/** The machine a run was made on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
}

/** Everything the demo found: the numbers `pqm demo` prints, and what its results.json holds. */
export interface DemoResults {
  format: "pqm-demo/1";
  createdAt: string;
  /** What started the run (`RunOptions.command`). */
  command: string;
  machine: MachineInfo;
  /** The TF.js backend of the first seed's models, as a sentence. */
  backend: string;
  /** The recipe as run. */
  config: DemoRecipe;
  /** One sentence: did PQM beat BCE at the largest n, by how much. */
  verdict: string;
  /** Means over seeds with 95% intervals. */
  summary: DemoSummary;
  /** One result per seed, in seed order. */
  runs: DemoSeedResult[];
  /** Full best-of-n reports (per-question views) of the first seed, one per model; empty without `out`. */
  modelReports: ModelReportLink[];
}

/** Options of {@link runDemo}. */
export interface DemoOptions extends RunOptions {
  /** Laid over {@link defaultDemoRecipe} (top-level fields). */
  recipe?: Partial<DemoRecipe>;
}

/** What {@link runDemo} returns. */
export interface DemoRun {
  results: DemoResults;
  /** The report files in `out`; null without `out`. */
  files: DemoReportFiles | null;
}

/** What one seed produced, including what the per-model reports need. */
interface DemoSeedRun {
  result: DemoSeedResult;
  test: TestCandidates;
  scores: { pqm: number[][][]; bce: number[][][] };
  bestOfN: { pqm: BestOfNResult; bce: BestOfNResult };
}

/**
 * The demo's searches: for each budget N, best-of-N sampled afresh and step-level beam search with N
 * paths, both ranking by the minimum step score as the demo's best-of-n does; null when
 * `recipe.searchNs` is empty. On arith both cost the same generated tokens at one N.
 */
export function demoSearchJob(recipe: DemoRecipe): SearchJob | null {
  if (recipe.searchNs.length === 0) return null;
  const specs: SearchSpec[] = recipe.searchNs.flatMap((n) => [
    { method: "bon" as const, n, aggregation: "min" as const },
    { method: "beam" as const, n, beamWidth: recipe.beamWidth, aggregation: "min" as const },
  ]);
  return {
    environment: { problems: recipe.problems, policy: recipe.policy },
    questions: Math.min(recipe.searchQuestions, recipe.testQuestions),
    specs,
  };
}

/** The machine a run ran on, recorded in its results. */
export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** The stage name of the demo's training stage, as it appears in events and the time table. */
export function demoTrainingStage(recipe: Pick<DemoRecipe, "parallel" | "searchNs">): string {
  const what = `train and score both models${recipe.searchNs.length > 0 ? " and search with each" : ""}`;
  return recipe.parallel ? `${what} (one thread each)` : what;
}

/**
 * One run of the demo for one seed: sample a training corpus and label it by Monte-Carlo rollouts,
 * train a PQM and a BCE model from scratch with the same budget, sample best-of-n candidates for
 * held-out questions, score them with both models and evaluate against the exact truths.
 */
async function runDemoSeed(
  recipe: DemoRecipe,
  seed: number,
  outDir: string | undefined,
  options: RunOptions,
  ledger: RunLedger,
): Promise<DemoSeedRun> {
  const { signal } = options;
  const emit = (event: PipelineEvent) => options.onProgress?.(event);
  if (outDir !== undefined) await mkdir(outDir, { recursive: true });
  const stages: StageTime[] = [];
  const timed = async <T>(stage: string, work: () => Promise<T>, models?: number): Promise<T> => {
    signal?.throwIfAborted();
    const started = performance.now();
    emit({ type: "stage-start", seed, stage, ...(models !== undefined ? { models } : {}) });
    signal?.throwIfAborted();
    const result = await work();
    signal?.throwIfAborted();
    const seconds = (performance.now() - started) / 1000;
    stages.push({ stage, seconds });
    emit({ type: "stage-end", seed, stage, seconds });
    return result;
  };
  const environment = new ArithEnvironment({ seed, problems: recipe.problems, policy: recipe.policy });

  const { corpus, rollouts } = await timed("annotate", () =>
    arithMonteCarloCorpus(environment, {
      questions: recipe.trainQuestions,
      samplesPerQuestion: recipe.samplesPerQuestion,
      n: recipe.rollouts,
      ...(outDir !== undefined ? { output: join(outDir, "annotations.jsonl") } : {}),
      sampleSeed: seed,
      seed,
      ...(signal ? { signal } : {}),
      onProgress: (progress) => {
        ledger.progress(`seed ${seed}: annotation`, `${progress.doneRows} of ${progress.totalRows} rows`);
        emit({ type: "annotation", seed, rollouts: recipe.rollouts, progress });
      },
    }),
  );
  ledger.done(`seed ${seed}: annotation`);
  const test = await timed("sample candidates", async () => sampleTestCandidates(environment, recipe, seed));
  // The vocabulary comes from training questions and solutions plus fresh problems of the same
  // generator, so that test questions with other names do not fall to [UNK]; no labels are involved.
  const tokenizerCorpus = [
    ...corpus.map((trajectory) => `${trajectory.question.text} ${trajectory.steps.join(" ")}`),
    ...environment.trainQuestions(200, recipe.trainQuestions).map((question) => question.text),
  ];
  const candidates = test.solutions
    .flat()
    .map((solution) => ({ question: solution.question, steps: solution.steps }));
  const search = demoSearchJob(recipe);
  const jobs: TrainJob[] = (["pqm", "bce"] as const).map((loss) => ({
    loss,
    corpus,
    candidates,
    tokenizerCorpus,
    config: recipe,
    seed,
    ...(outDir !== undefined ? { outDir } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    ...(search === null ? {} : { search }),
  }));
  const trained = await timed(
    demoTrainingStage(recipe),
    () =>
      runTrainJobs(jobs, {
        parallel: recipe.parallel,
        seed,
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        ...(options.workerSetup ? { workerSetup: options.workerSetup } : {}),
        ...(signal ? { signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        onResult: (job) => ledger.done(`seed ${seed}: model ${job.name ?? job.loss}`),
      }),
    jobs.length,
  );
  const evaluation = await timed("evaluate", async () =>
    trained.map((result) => evaluateModel(result, test, recipe, seed)),
  );
  const [pqm, bce] = evaluation as [ReturnType<typeof evaluateModel>, ReturnType<typeof evaluateModel>];
  const oracle =
    search === null
      ? null
      : await timed("search with the exact-Q oracle", () =>
          evaluateArithSearch({
            environment: search.environment,
            questions: search.questions,
            seeds: [seed],
            searches: search.specs,
            scorers: [oracleScorer],
            ...(signal ? { signal } : {}),
          }),
        );
  const steps = corpus.reduce((sum, trajectory) => sum + trajectory.steps.length, 0);
  const allCorrect = test.correct.flat();
  return {
    result: {
      seed,
      backend: trained[0]?.backend ?? "",
      stages,
      // Every row's rollouts, those of rows a resumed run read back included.
      corpus: { trajectories: corpus.length, steps, rollouts, ...labelQuality(corpus) },
      test: {
        questions: test.questions.length,
        candidatesPerQuestion: recipe.candidates,
        policyAccuracy: allCorrect.filter(Boolean).length / allCorrect.length,
      },
      models: { pqm: pqm.result, bce: bce.result },
      baselines: {
        majority: pqm.bestOfN.methods.majority,
        random: pqm.bestOfN.methods.random,
        pass: pqm.bestOfN.methods.pass,
      },
      ...(search === null || oracle === null
        ? {}
        : {
            search: {
              questions: search.questions,
              beamWidth: recipe.beamWidth,
              points: [...trained.flatMap((result) => result.search ?? []), ...oracle.points].map(
                (point) => ({
                  scorer: point.scorer,
                  method: point.method,
                  n: point.n,
                  accuracy: point.accuracy.mean,
                  meanGeneratedTokens: point.meanGeneratedTokens.mean,
                  chosenWithMistake: point.runs[0]?.chosenWithMistake ?? Number.NaN,
                }),
              ),
              seconds: Object.fromEntries(trained.map((result) => [result.name, result.searchSeconds ?? 0])),
            },
          }),
    },
    test,
    scores: { pqm: pqm.scores, bce: bce.scores },
    bestOfN: { pqm: pqm.bestOfN, bce: bce.bestOfN },
  };
}

/**
 * The demo: on the built-in arith environment, once per seed (`recipe.seed`, `+1`, ...), label a
 * training corpus by Monte-Carlo rollouts, train a PQM and a BCE model from scratch with the same
 * budget, and compare them by best-of-n and step-level metrics against the exact truths; then the
 * summary over seeds. With `out`, also writes the results folder (per-seed annotations and training
 * metrics, `results.json`, `report.md`, `index.html`, the plot, and a full best-of-n report per model
 * for the first seed), and resumes what an earlier run of the same recipe left there (`overwrite`).
 * @throws RangeError for a bad recipe field; `RunMismatchError` when `out` holds a run with another
 *   recipe; an `InterruptedError` (whose `saved` says what was kept) when the signal aborts it.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoRun> {
  const recipe = resolveDemoRecipe(options.recipe);
  const followed = followSignal(options.signal);
  const ledger = new RunLedger(options.out);
  try {
    if (options.out !== undefined) {
      await openRunFolder(options.out, { run: "demo", recipe }, options.overwrite ?? false);
    }
    return await demo(recipe, { ...options, signal: followed.signal }, ledger);
  } catch (error) {
    if (options.signal?.aborted) throw ledger.interrupted(options.signal.reason);
    throw error;
  } finally {
    followed.dispose();
  }
}

async function demo(recipe: DemoRecipe, options: DemoOptions, ledger: RunLedger): Promise<DemoRun> {
  const { out, signal } = options;
  const runs: DemoSeedRun[] = [];
  for (let k = 0; k < recipe.seeds; k++) {
    const seed = recipe.seed + k;
    runs.push(
      await runDemoSeed(
        recipe,
        seed,
        out === undefined ? undefined : join(out, `seed-${seed}`),
        options,
        ledger,
      ),
    );
  }
  const summary = summarizeDemo(
    runs.map((run) => run.result),
    recipe.ns,
  );
  const first = runs[0];
  const modelReports =
    first && out !== undefined
      ? await writeModelReports(
          out,
          { seed: first.result.seed, test: first.test, scores: first.scores },
          recipe,
          signal,
        )
      : [];
  signal?.throwIfAborted();
  const results: DemoResults = {
    format: "pqm-demo/1",
    createdAt: new Date().toISOString(),
    command: options.command ?? "@pqm/pipeline",
    machine: machineInfo(),
    backend: first?.result.backend ?? "",
    config: recipe,
    verdict: demoVerdict(summary),
    summary,
    runs: runs.map((run) => run.result),
    modelReports,
  };
  const files = out === undefined ? null : await writeDemoReport(out, results);
  return { results, files };
}
