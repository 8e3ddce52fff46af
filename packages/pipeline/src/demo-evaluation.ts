import type { LabeledTrajectory, Question } from "@pqm/core";
import { type ArithEnvironment, type ArithSolution, isEquivalent } from "@pqm/data";
import {
  type BestOfNQuestion,
  type BestOfNResult,
  type CurvePoint,
  evaluateBestOfN,
  evaluateQValueFidelity,
  evaluateStepLabels,
  type PositionScores,
  type QValueFidelity,
  type StepLabelMetrics,
} from "@pqm/eval";
import type { SearchMethod } from "@pqm/search";
import type { DemoRecipe } from "./recipe.js";
import type { TrainJobResult } from "./train-and-score.js";

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
  /** Weighted-vote accuracy at each n: the final answer whose candidates' summed sigmoid(min score) is largest. */
  weightedVote: CurvePoint[];
  /** Step-level AUROC and accuracy against the exact process labels of the test candidates. */
  stepLabels: StepLabelMetrics;
  /** Spearman with the exact Q-values and the share of candidates whose scores follow Theorem 3.5. */
  qValues: QValueFidelity;
  /**
   * Mean step score by step position, for steps whose exact label is correct and wrong: shows whether a
   * model separates the two at the same position or mostly learned where in a solution a step sits.
   */
  scoreByPosition: PositionScores[];
}

/** One full run of the demo for one seed. */
export interface DemoSeedResult {
  seed: number;
  /** The TF.js backend the models trained on, as a sentence. */
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
  /** Beam search against best-of-N at equal budgets, per verifier (absent when the recipe has no `searchNs`). */
  search?: DemoSeedSearch;
}

/** One search of one seed: a verifier, a method and a budget N. */
export interface DemoSearchPoint {
  /** `pqm`, `bce` or `oracle` (the exact Q-values: a perfect verifier). */
  scorer: string;
  method: SearchMethod;
  n: number;
  /** Share of the searched questions answered correctly. */
  accuracy: number;
  /** Tokens (words) the policy generated per question, pruned paths included. */
  meanGeneratedTokens: number;
  /** Share of questions whose chosen solution has an exact mistake. */
  chosenWithMistake: number;
}

/** The searches of one seed. */
export interface DemoSeedSearch {
  questions: number;
  beamWidth: number;
  points: DemoSearchPoint[];
  /** Seconds each trained model spent on its searches. */
  seconds: Record<string, number>;
}

function scoreByPosition(
  scored: readonly { stepScores: readonly number[]; hardLabels: readonly number[] }[],
): PositionScores[] {
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

/** Agreement of a corpus's Monte-Carlo labels with the exact labels and Q-values its `meta` carries. */
export function labelQuality(corpus: readonly LabeledTrajectory[]): {
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

/** The held-out questions, their sampled candidates, and each candidate's correctness and answer group. */
export interface TestCandidates {
  questions: Question[];
  solutions: ArithSolution[][];
  correct: boolean[][];
  groups: (number | null)[][];
}

/** Samples `recipe.candidates` solutions for each of `recipe.testQuestions` held-out questions. */
export function sampleTestCandidates(
  environment: ArithEnvironment,
  recipe: DemoRecipe,
  seed: number,
): TestCandidates {
  const questions = environment.testQuestions(recipe.testQuestions);
  const solutions = questions.map((question) =>
    environment.sampleSolutions(question, recipe.candidates, seed + 1),
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
  recipe: DemoRecipe,
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
    ns: recipe.ns,
    protocol: "subsets",
    aggregation: "min",
    sweepAggregations: ["min", "last", "mean", "sum-log-sigmoid"],
    subsets: recipe.subsets,
    seed,
    bootstrapResamples: recipe.bootstrapResamples,
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
      zeta: trained.loss.startsWith("pqm") ? recipe.zeta : null,
      trainSteps: trained.trainSteps,
      trainSeconds: trained.trainSeconds,
      trainTokensPerSecond: trained.trainTokensPerSecond,
      scoreSeconds: trained.scoreSeconds,
      validationAuroc: trained.validationAuroc,
      bestOfN: bestOfN.methods.bon,
      weightedVote: bestOfN.methods["weighted-vote"],
      stepLabels: evaluateStepLabels(scored),
      qValues: evaluateQValueFidelity(scored),
      scoreByPosition: scoreByPosition(scored),
    },
    bestOfN,
    scores,
  };
}
