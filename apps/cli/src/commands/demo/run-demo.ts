import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { LabelledTrajectory, Question } from "@pqm/core";
import { ArithEnvironment, type ArithSolution, arithMonteCarloCorpus, isEquivalent } from "@pqm/data";
import {
  type BestOfNQuestion,
  type BestOfNResult,
  type CurvePoint,
  evaluateBestOfN,
  evaluateQValueFidelity,
  evaluateStepLabels,
  type QValueFidelity,
  type StepLabelMetrics,
} from "@pqm/eval";
import type { DemoConfig } from "./demo-config.js";
import { runTrainJobs } from "./demo-jobs.js";
import type { TrainJob, TrainJobResult } from "./demo-training.js";

/** Where the demo reports progress (stderr by default; silent under `--json` tests). */
export type DemoLog = (line: string) => void;

/** Seconds one stage of one seed took. */
export interface StageTime {
  stage: string;
  seconds: number;
}

/** What one trained PRM achieved on the held-out candidates. */
export interface DemoModelResult {
  loss: string;
  zeta: number | null;
  trainSteps: number;
  trainSeconds: number;
  trainTokensPerSecond: number;
  /** Seconds scoring the held-out candidates took. */
  scoreSeconds: number;
  /** Step-level AUROC on the validation split (against the Monte-Carlo labels it was trained on). */
  validationAuroc: number | null;
  /** Best-of-n accuracy (min aggregation) at each n, with its 95% bootstrap interval. */
  bestOfN: CurvePoint[];
  /** Step-level AUROC and accuracy against the exact process labels of the test candidates. */
  stepLabels: StepLabelMetrics;
  /** Spearman with the exact Q-values and the share of candidates whose scores follow Theorem 3.5. */
  qValues: QValueFidelity;
  /**
   * Mean step score by step position, for steps whose exact label is correct and wrong: shows whether a
   * model separates the two at the same position or mostly learned where in a solution a step sits.
   */
  scoreByPosition: { position: number; correct: number | null; wrong: number | null }[];
}

function scoreByPosition(
  scored: readonly { stepScores: readonly number[]; hardLabels: readonly number[] }[],
): DemoModelResult["scoreByPosition"] {
  const sums: { correct: [number, number]; wrong: [number, number] }[] = [];
  for (const { stepScores, hardLabels } of scored) {
    stepScores.forEach((score, position) => {
      sums[position] ??= { correct: [0, 0], wrong: [0, 0] };
      const bucket = hardLabels[position] === 1 ? sums[position].correct : sums[position].wrong;
      bucket[0] += score;
      bucket[1] += 1;
    });
  }
  return sums.map((sum, position) => ({
    position: position + 1,
    correct: sum.correct[1] ? sum.correct[0] / sum.correct[1] : null,
    wrong: sum.wrong[1] ? sum.wrong[0] / sum.wrong[1] : null,
  }));
}

/** One full run of the pipeline. */
export interface DemoSeedResult {
  seed: number;
  backend: string;
  stages: StageTime[];
  corpus: {
    trajectories: number;
    steps: number;
    rollouts: number;
    /** Accuracy of the Monte-Carlo hard labels against the exact process labels. */
    hardLabelAccuracy: number;
    /** Mean absolute error of the Monte-Carlo soft labels against the exact Q-values. */
    softLabelMae: number;
  };
  test: {
    questions: number;
    candidatesPerQuestion: number;
    /** Share of all candidates with a correct final answer (the policy's accuracy). */
    policyAccuracy: number;
  };
  models: { pqm: DemoModelResult; bce: DemoModelResult };
  /** PRM-free baselines on the same candidates. */
  baselines: { majority: CurvePoint[]; random: CurvePoint[]; pass: CurvePoint[] };
}

async function timed<T>(
  stages: StageTime[],
  stage: string,
  log: DemoLog,
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  log(`${stage} ...`);
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  stages.push({ stage, seconds });
  log(`${stage} done in ${seconds.toFixed(1)} s`);
  return result;
}

function labelQuality(corpus: readonly LabelledTrajectory[]): {
  hardLabelAccuracy: number;
  softLabelMae: number;
} {
  let steps = 0;
  let agree = 0;
  let absoluteError = 0;
  for (const trajectory of corpus) {
    const exactLabels = trajectory.meta?.exactLabels as number[] | undefined;
    const exactQ = trajectory.meta?.exactQValues as number[] | undefined;
    trajectory.hardLabels.forEach((label, index) => {
      steps += 1;
      if (exactLabels?.[index] === label) agree += 1;
      absoluteError += Math.abs((trajectory.softLabels?.[index] ?? label) - (exactQ?.[index] ?? 0));
    });
  }
  return { hardLabelAccuracy: agree / steps, softLabelMae: absoluteError / steps };
}

/** Groups equal final answers per question (ids 0, 1, ...; `null` for no answer), as majority voting needs. */
function answerGroups(solutions: readonly ArithSolution[]): (number | null)[] {
  const ids = new Map<string, number>();
  return solutions.map((solution) => {
    if (solution.finalAnswer === null) return null;
    const key = String(Number(solution.finalAnswer.replace(/,/g, "")));
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    return id;
  });
}

export interface TestCandidates {
  questions: Question[];
  solutions: ArithSolution[][];
  correct: boolean[][];
  groups: (number | null)[][];
}

export function sampleTestCandidates(
  environment: ArithEnvironment,
  config: DemoConfig,
  seed: number,
): TestCandidates {
  const questions = environment.testQuestions(config.testQuestions);
  const solutions = questions.map((question) =>
    environment.sampleSolutions(question, config.candidates, seed + 1),
  );
  const correct = solutions.map((set, index) =>
    set.map((solution) => isEquivalent(solution.finalAnswer, questions[index]?.answer ?? null, "gsm")),
  );
  return { questions, solutions, correct, groups: solutions.map(answerGroups) };
}

/** Best-of-n and the step-level metrics of one model's scores on the held-out candidates. */
export function evaluateModel(
  trained: TrainJobResult,
  test: TestCandidates,
  config: DemoConfig,
  seed: number,
): { result: DemoModelResult; bestOfN: BestOfNResult; scores: number[][][] } {
  const scores: number[][][] = [];
  let offset = 0;
  for (const set of test.solutions) {
    scores.push(trained.scores.slice(offset, offset + set.length));
    offset += set.length;
  }
  const questions: BestOfNQuestion[] = scores.map((stepScores, index) => ({
    stepScores,
    correct: test.correct[index] ?? [],
    answerGroups: test.groups[index] ?? [],
  }));
  const bestOfN = evaluateBestOfN(questions, {
    ns: config.ns,
    protocol: "subsets",
    aggregation: "min",
    sweepAggregations: ["min", "last", "mean", "sum-log-sigmoid"],
    subsets: config.subsets,
    seed,
    bootstrapResamples: config.bootstrapResamples,
  });
  const scored = test.solutions.flat().map((solution, index) => ({
    stepScores: trained.scores[index] ?? [],
    labels: solution.processLabels,
    qValues: solution.qValues,
    hardLabels: solution.processLabels,
  }));
  return {
    result: {
      loss: trained.loss,
      zeta: trained.loss.startsWith("pqm") ? config.zeta : null,
      trainSteps: trained.trainSteps,
      trainSeconds: trained.trainSeconds,
      trainTokensPerSecond: trained.trainTokensPerSecond,
      scoreSeconds: trained.scoreSeconds,
      validationAuroc: trained.validationAuroc,
      bestOfN: bestOfN.methods.bon,
      stepLabels: evaluateStepLabels(scored),
      qValues: evaluateQValueFidelity(scored),
      scoreByPosition: scoreByPosition(scored),
    },
    bestOfN,
    scores,
  };
}

/** Everything one seed produced, including what the report's per-question view needs. */
export interface DemoSeedRun {
  result: DemoSeedResult;
  test: TestCandidates;
  scores: { pqm: number[][][]; bce: number[][][] };
  bestOfN: { pqm: BestOfNResult; bce: BestOfNResult };
}

/**
 * One run of the demo pipeline on the built-in arith environment: sample a training corpus and label it
 * by Monte-Carlo rollouts, train a PQM and a BCE model from scratch with the same budget, sample best-of-n
 * candidates for held-out questions, score them with both models and evaluate against the exact truths.
 */
export async function runDemoSeed(
  config: DemoConfig,
  seed: number,
  outDir: string,
  log: DemoLog,
  backendName?: "wasm" | "cpu",
): Promise<DemoSeedRun> {
  await mkdir(outDir, { recursive: true });
  const stages: StageTime[] = [];
  const environment = new ArithEnvironment({ seed, problems: config.problems, policy: config.policy });

  const { corpus, summary } = await timed(stages, "annotate", log, () =>
    arithMonteCarloCorpus(environment, {
      questions: config.trainQuestions,
      samplesPerQuestion: config.samplesPerQuestion,
      n: config.rollouts,
      output: join(outDir, "annotations.jsonl"),
      sampleSeed: seed,
      seed,
      progress: false,
    }),
  );
  const test = await timed(stages, "sample candidates", log, async () =>
    sampleTestCandidates(environment, config, seed),
  );
  // The vocabulary comes from training questions and solutions plus fresh problems of the same
  // generator, so that test questions with other names do not fall to [UNK]; no labels are involved.
  const tokenizerCorpus = [
    ...corpus.map((trajectory) => `${trajectory.question.text} ${trajectory.steps.join(" ")}`),
    ...environment.trainQuestions(200, config.trainQuestions).map((question) => question.text),
  ];
  const candidates = test.solutions
    .flat()
    .map((solution) => ({ question: solution.question, steps: solution.steps }));
  const jobs: TrainJob[] = (["pqm", "bce"] as const).map((loss) => ({
    loss,
    corpus,
    candidates,
    tokenizerCorpus,
    config,
    seed,
    outDir,
    ...(backendName ? { backend: backendName } : {}),
  }));
  const trained = await timed(
    stages,
    config.parallel ? "train and score both models (one thread each)" : "train and score both models",
    log,
    () => runTrainJobs(jobs, config.parallel, log),
  );
  const evaluation = await timed(stages, "evaluate", log, async () =>
    trained.map((result) => evaluateModel(result, test, config, seed)),
  );
  const [pqm, bce] = evaluation as [ReturnType<typeof evaluateModel>, ReturnType<typeof evaluateModel>];
  const steps = corpus.reduce((sum, trajectory) => sum + trajectory.steps.length, 0);
  const allCorrect = test.correct.flat();
  return {
    result: {
      seed,
      backend: trained[0]?.backend ?? "",
      stages,
      corpus: { trajectories: corpus.length, steps, rollouts: summary.rollouts, ...labelQuality(corpus) },
      test: {
        questions: test.questions.length,
        candidatesPerQuestion: config.candidates,
        policyAccuracy: allCorrect.filter(Boolean).length / allCorrect.length,
      },
      models: { pqm: pqm.result, bce: bce.result },
      baselines: {
        majority: pqm.bestOfN.methods.majority,
        random: pqm.bestOfN.methods.random,
        pass: pqm.bestOfN.methods.pass,
      },
    },
    test,
    scores: { pqm: pqm.scores, bce: bce.scores },
    bestOfN: { pqm: pqm.bestOfN, bce: bce.bestOfN },
  };
}
