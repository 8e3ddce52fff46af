import { join } from "node:path";
import type { Scorer } from "@pqm/core/reference";
import type { ArithEnvironmentOptions } from "@pqm/data";
import { ArithEnvironment } from "@pqm/data";
import { ArithStepPolicy } from "./arith-step-policy.js";
import { arithTreeTruth } from "./arith-tree-truth.js";
import type { MeanInterval } from "./mean-interval.js";
import { meanWithInterval } from "./mean-interval.js";
import { type QuestionResult, runSearch, sumCompute } from "./run-search.js";
import { ExactQScorer } from "./scorers.js";
import type { SearchSpec } from "./search-methods.js";
import type { SearchCompute } from "./search-tree.js";

/** A scorer of the evaluation; `make` gets each seed's environment (the oracle needs it). */
export interface EvaluationScorer {
  /** Names the scorer in the results (`oracle`, `pqm`, `bce`...). */
  name: string;
  make(environment: ArithEnvironment): Scorer;
}

/**
 * The arith recipe the search evaluation runs on by default: the one `pqm demo` trains its PRMs on
 * (3 to 5 steps, numbers 2 to 10, results up to 100, error rate 0.2, every mistake a copied wrong
 * operand, no skipped steps), so a demo-style checkpoint guides the search on questions like those it
 * learnt from.
 */
export const arithSearchRecipe: Readonly<Omit<ArithEnvironmentOptions, "seed">> = Object.freeze({
  problems: Object.freeze({ minSteps: 3, maxSteps: 5, minNumber: 2, maxNumber: 10, maxResult: 100 }),
  policy: Object.freeze({ errorRate: 0.2, slipShare: 0, wrongOperandShare: 1, skipShare: 0 }),
});

/** The exact-Q oracle as an evaluation scorer. */
export const oracleScorer: EvaluationScorer = {
  name: "oracle",
  make: (environment) => new ExactQScorer(environment),
};

/** Options of {@link evaluateArithSearch}. */
export interface ArithEvaluationOptions {
  /** The environment's problem and policy knobs (default {@link arithSearchRecipe}); its seed is each run's seed. */
  environment?: Omit<ArithEnvironmentOptions, "seed">;
  /** Test questions per seed. */
  questions: number;
  /** One run per seed (test questions and policy samples both follow the seed). */
  seeds: readonly number[];
  /** The searches, each run with every scorer. */
  searches: readonly SearchSpec[];
  scorers: readonly EvaluationScorer[];
  /** Questions searched at once (default 1). */
  concurrency?: number;
  /** A folder for each run's results file, so an interrupted evaluation resumes. */
  outDir?: string;
  signal?: AbortSignal;
  /** Called after each run (scorer x search x seed). */
  onRun?: (run: ArithEvaluationRun) => void;
}

/** One run: a scorer, a search and a seed. */
export interface ArithEvaluationRun {
  scorer: string;
  label: string;
  seed: number;
  questions: number;
  accuracy: number;
  /** Generated tokens per question. */
  meanGeneratedTokens: number;
  /** Share of questions whose chosen path has an exact first mistake. */
  chosenWithMistake: number;
  /** The run's compute per question (means). */
  compute: SearchCompute;
}

/** One point of a curve: a scorer and a search over all seeds. */
export interface ArithEvaluationPoint {
  scorer: string;
  /** `beam N=16 m=4`, `bon N=64`... */
  label: string;
  method: SearchSpec["method"];
  n: number;
  beamWidth: number;
  lookahead: number;
  accuracy: MeanInterval;
  meanGeneratedTokens: MeanInterval;
  runs: ArithEvaluationRun[];
}

/** What {@link evaluateArithSearch} returns. */
export interface ArithEvaluation {
  format: "pqm-search-arith/1";
  questions: number;
  seeds: number[];
  environment: Omit<ArithEnvironmentOptions, "seed">;
  points: ArithEvaluationPoint[];
}

/** A short label of a search: `beam N=16 m=4`, `beam N=16 m=4 k=1`, `bon N=64`, `mcts N=32 m=4`. */
export function searchLabel(spec: SearchSpec): string {
  const m = spec.beamWidth ?? 4;
  const parts = [spec.method, `N=${spec.n}`];
  if (spec.method === "beam" || spec.method === "dvts" || spec.method === "mcts") parts.push(`m=${m}`);
  if ((spec.lookahead ?? 0) > 0) parts.push(`k=${spec.lookahead}`);
  return parts.join(" ");
}

/**
 * The exact evaluation on arith: every search with every scorer on `questions` test questions
 * per seed, accuracy against the exact gold answers and tokens generated, with 95% t-intervals
 * over seeds. With the exact-Q oracle as the scorer a search shows its ceiling: what it reaches
 * with a perfect verifier.
 */
export async function evaluateArithSearch(options: ArithEvaluationOptions): Promise<ArithEvaluation> {
  const points: ArithEvaluationPoint[] = [];
  const environmentOptions = options.environment ?? arithSearchRecipe;
  for (const scorerSpec of options.scorers) {
    for (const spec of options.searches) {
      const label = searchLabel(spec);
      const runs: ArithEvaluationRun[] = [];
      for (const seed of options.seeds) {
        const environment = new ArithEnvironment({ ...environmentOptions, seed });
        const questions = environment.testQuestions(options.questions);
        const output =
          options.outDir === undefined
            ? undefined
            : join(options.outDir, `${scorerSpec.name}-${label.replace(/[ =]/g, "")}-seed${seed}.jsonl`);
        const { results, summary } = await runSearch({
          questions,
          policy: new ArithStepPolicy(environment),
          scorer: scorerSpec.make(environment),
          spec: { ...spec, seed },
          concurrency: options.concurrency ?? 1,
          ...(output === undefined ? {} : { output }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          annotate: (question, outcome) => {
            const truth = arithTreeTruth(environment, question, outcome.nodes, outcome.chosen);
            return { exactQ: truth.exactQ, exactLabel: truth.exactLabel, firstMistake: truth.firstMistake };
          },
        });
        const run: ArithEvaluationRun = {
          scorer: scorerSpec.name,
          label,
          seed,
          questions: results.length,
          accuracy: summary.accuracy,
          meanGeneratedTokens: summary.meanGeneratedTokens,
          chosenWithMistake: share(results, (result) => result.extra?.firstMistake != null),
          compute: perQuestion(summary.compute, results.length),
        };
        runs.push(run);
        options.onRun?.(run);
      }
      points.push({
        scorer: scorerSpec.name,
        label,
        method: spec.method,
        n: spec.n,
        beamWidth: spec.beamWidth ?? 4,
        lookahead: spec.lookahead ?? 0,
        accuracy: meanWithInterval(
          runs.map((run) => run.accuracy),
          { min: 0, max: 1 },
        ),
        meanGeneratedTokens: meanWithInterval(runs.map((run) => run.meanGeneratedTokens)),
        runs,
      });
    }
  }
  return {
    format: "pqm-search-arith/1",
    questions: options.questions,
    seeds: [...options.seeds],
    environment: environmentOptions,
    points,
  };
}

/** The paired difference in accuracy (a - b, over the seeds both ran) with its 95% t-interval. */
export function accuracyDifference(a: ArithEvaluationPoint, b: ArithEvaluationPoint): MeanInterval {
  const bySeed = new Map(b.runs.map((run) => [run.seed, run.accuracy]));
  const differences = a.runs
    .filter((run) => bySeed.has(run.seed))
    .map((run) => run.accuracy - bySeed.get(run.seed)!);
  return meanWithInterval(differences);
}

function share(results: readonly QuestionResult[], test: (result: QuestionResult) => boolean): number {
  return results.length === 0 ? Number.NaN : results.filter(test).length / results.length;
}

function perQuestion(total: SearchCompute, count: number): SearchCompute {
  const mean = sumCompute([total]);
  if (count === 0) return mean;
  for (const key of Object.keys(mean) as Array<keyof SearchCompute>) mean[key] /= count;
  return mean;
}
