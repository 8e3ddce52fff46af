import {
  type AggregationName,
  aggregationNames,
  deriveSeed,
  getAggregation,
  sigmoid,
} from "@pqm/core/reference";
import { bootstrapMean, createResamplePlan, type Interval } from "../statistics/bootstrap.js";
import { createRandom, sampleWithoutReplacement } from "../statistics/random.js";
import {
  createVoteScratch,
  NO_ANSWER_GROUP,
  passAtNUnbiased,
  pickByVote,
  pickHighestScore,
} from "./selection.js";

/** One question's candidates as plain data: what best-of-n needs and nothing else. */
export interface BestOfNQuestion {
  /**
   * Step scores (raw logits) of each candidate: `[candidates][steps]`, every candidate at least one
   * step. Needed at step level (the default); ignored at outcome level.
   */
  stepScores?: readonly (readonly number[])[];
  /** One outcome score (raw logit) per candidate: needed at outcome level (`scoreLevel: "outcome"`). */
  outcomeScores?: readonly number[];
  /** Whether each candidate's final answer is correct. */
  correct: readonly boolean[];
  /**
   * Answer group of each candidate (candidates with equivalent final answers share an id, ids are
   * small non-negative integers), `null` when the candidate states no answer.
   */
  answerGroups: readonly (number | null)[];
}

/** The two ways of drawing n candidates out of the m available. */
export type BestOfNProtocol = "reference" | "subsets";

/** The methods compared at each n. */
export const bestOfNMethods = ["bon", "orm-last", "weighted-vote", "majority", "random", "pass"] as const;
/** One of {@link bestOfNMethods}: a PRM pick (`bon`, `orm-last`, `weighted-vote`) or a baseline. */
export type BestOfNMethod = (typeof bestOfNMethods)[number];

/** Human-readable names of the methods, for tables and plots. */
export const bestOfNMethodLabels: Record<BestOfNMethod, string> = {
  bon: "PRM best-of-n",
  "orm-last": "ORM-style (last step)",
  "weighted-vote": "PRM-weighted vote",
  majority: "Majority vote",
  random: "Random choice",
  pass: "pass@n (oracle)",
};

/** Names of the methods on outcome-level scores (`bon` and `weighted-vote` read the one score). */
export const outcomeMethodLabels: Record<BestOfNMethod, string> = {
  ...bestOfNMethodLabels,
  bon: "Best outcome score",
  "weighted-vote": "Outcome-score-weighted vote",
};

/** The label of a method at a score level. */
export function bestOfNMethodLabel(method: BestOfNMethod, level: "step" | "outcome" = "step"): string {
  return (level === "outcome" ? outcomeMethodLabels : bestOfNMethodLabels)[method];
}

/** Why `orm-last` and the aggregation sweep have no numbers on outcome-level scores. */
export const OUTCOME_NOT_APPLICABLE =
  "not applicable: the scores are outcome level (one score per candidate), so there are no step scores to aggregate";

/** Options of {@link evaluateBestOfN}. */
export interface BestOfNOptions {
  /**
   * `step` (default): candidates carry `stepScores`; `outcome`: they carry `outcomeScores`, `bon` picks
   * the highest outcome score, `weighted-vote` weighs by its sigmoid, and `orm-last` and the sweep are
   * not applicable (null with the reason in `notApplicable`).
   */
  scoreLevel?: "step" | "outcome";
  /** Subset sizes (default 1, 8, 16, 32, 64, 128). */
  ns?: readonly number[];
  /** `reference` (first n, one run) or `subsets` (mean over seeded random subsets). Default `subsets`. */
  protocol?: BestOfNProtocol;
  /** Aggregation giving the solution score of `bon` and the weights of `weighted-vote` (default `min`). */
  aggregation?: AggregationName;
  /** Aggregations of the sweep table (default: all of @pqm/core's). */
  sweepAggregations?: readonly AggregationName[];
  /** Random subsets per question and n for the `subsets` protocol (default 100). */
  subsets?: number;
  /** Seed of the subsets and the bootstrap (default 0). */
  seed?: number;
  /** Bootstrap resamples over questions for the intervals (default 1000). */
  bootstrapResamples?: number;
  /** Interval coverage (default 0.95). */
  level?: number;
  /** What to do when n exceeds a question's candidate count: throw (default) or leave it out of that n. */
  tooFewCandidates?: "error" | "exclude";
  /** Candidate file, for error messages. */
  file?: string;
  /** Question ids, for error messages and exclusion lists. */
  questionIds?: readonly string[];
}

/** One point of an accuracy-versus-n curve. Accuracies are fractions in [0, 1]. */
export interface CurvePoint extends Interval {
  n: number;
  /** Questions left out at this n (too few candidates). */
  excluded: number;
}

/** Everything {@link evaluateBestOfN} computed. */
export interface BestOfNResult {
  protocol: BestOfNProtocol;
  /** `outcome` when the scores were outcome level; absent for step-level scores. */
  scoreLevel?: "step" | "outcome";
  /** Step-level aggregation of `bon` and `weighted-vote` (not used on outcome-level scores). */
  aggregation: AggregationName;
  ns: number[];
  subsets: number;
  seed: number;
  bootstrapResamples: number;
  level: number;
  questionCount: number;
  /** Accuracy curve per method; `orm-last` is `null` on outcome-level scores (see `notApplicable`). */
  methods: Record<Exclude<BestOfNMethod, "orm-last">, CurvePoint[]> & { "orm-last": CurvePoint[] | null };
  /** Methods and tables without numbers, with the reason (outcome-level scores); empty otherwise. */
  notApplicable?: Partial<Record<"orm-last" | "sweep", string>>;
  /** Best-of-n accuracy curve per aggregation (the sweep table). */
  sweep: Partial<Record<AggregationName, CurvePoint[]>>;
  /** Questions left out, per n. */
  exclusions: { n: number; question: number; id: string; candidates: number }[];
  /**
   * The candidate each method picks from each question's first `nMax` candidates (reference rule,
   * whatever the protocol), where `nMax` is the largest n; `null` when nothing was picked.
   */
  referenceChoices: {
    n: number;
    byMethod: Record<Exclude<BestOfNMethod, "random" | "pass">, (number | null)[]>;
    /* On outcome-level scores `orm-last` picks nothing: every entry is null. */
  };
}

const defaultNs = [1, 8, 16, 32, 64, 128] as const;

/**
 * Best-of-n accuracy of a PRM and its baselines at several n (see docs/method.md, section 7.2).
 *
 * - `bon`: pick the highest solution score (`aggregation` of the step scores), ties to the earliest.
 * - `orm-last`: the same with the last step's score (an outcome-reward-model reading).
 * - `weighted-vote`: each answer group's weight is the sum of sigmoid(solution score) of its members.
 * - `majority`: each answer group's weight is its member count (self-consistency).
 *   Both votes break ties by the group's earliest member and count that member's correctness;
 *   candidates without an answer do not vote; a subset where no one answers counts as wrong.
 * - `random`: expected accuracy of a uniform pick, exactly: the mean correctness of the first n
 *   (reference) or `c/m`, the expectation over random subsets (subsets).
 * - `pass`: any correct among the first n (reference) or the unbiased `1 - C(m-c,n)/C(m,n)` (subsets).
 *
 * `reference` uses the first n candidates once; `subsets` averages each question over `subsets`
 * seeded random subsets of size n drawn without replacement (one subset when n = m, since they are all
 * the same set). Intervals are percentile bootstraps over questions, shared across methods.
 *
 * Throws a RangeError naming the file and question when arrays disagree in length, a candidate has no
 * step or a NaN score, or n exceeds the candidates (unless `tooFewCandidates: "exclude"`).
 */
export function evaluateBestOfN(
  questions: readonly BestOfNQuestion[],
  options: BestOfNOptions = {},
): BestOfNResult {
  const ns = [...(options.ns ?? defaultNs)];
  const scoreLevel = options.scoreLevel ?? "step";
  const outcome = scoreLevel === "outcome";
  const protocol = options.protocol ?? "subsets";
  const aggregation = options.aggregation ?? "min";
  const sweepAggregations = outcome ? [] : [...(options.sweepAggregations ?? aggregationNames)];
  const subsetCount = protocol === "reference" ? 1 : (options.subsets ?? 100);
  const seed = options.seed ?? 0;
  const bootstrapResamples = options.bootstrapResamples ?? 1000;
  const level = options.level ?? 0.95;
  const tooFew = options.tooFewCandidates ?? "error";
  const file = options.file ?? "<candidates>";
  const idOf = (q: number) => options.questionIds?.[q] ?? String(q);
  for (const n of ns) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`best-of-n: n must be a positive integer, got ${n}`);
  }
  if (!Number.isInteger(subsetCount) || subsetCount < 1) {
    throw new RangeError(`best-of-n: subsets must be a positive integer, got ${subsetCount}`);
  }
  for (const name of [aggregation, ...sweepAggregations]) getAggregation(name);

  // Every aggregation the run needs, computed once per candidate.
  const neededAggregations = [...new Set<AggregationName>([aggregation, "last", ...sweepAggregations])];
  const prepared = questions.map((question, q) =>
    prepareQuestion(question, q, neededAggregations, aggregation, file, idOf, scoreLevel),
  );

  const Q = questions.length;
  const plan = createResamplePlan(Q, {
    resamples: bootstrapResamples,
    seed: deriveSeed(seed, 0xb007),
    level,
  });
  const methods = Object.fromEntries(bestOfNMethods.map((m) => [m, [] as CurvePoint[]])) as Record<
    BestOfNMethod,
    CurvePoint[]
  >;
  const notApplicable: NonNullable<BestOfNResult["notApplicable"]> = outcome
    ? { "orm-last": OUTCOME_NOT_APPLICABLE, sweep: OUTCOME_NOT_APPLICABLE }
    : {};
  const sweep: Partial<Record<AggregationName, CurvePoint[]>> = {};
  for (const name of sweepAggregations) sweep[name] = [];
  const exclusions: BestOfNResult["exclusions"] = [];

  for (const n of ns) {
    const perAggregation = new Map<AggregationName, Float64Array>();
    for (const name of neededAggregations) perAggregation.set(name, new Float64Array(Q));
    const majority = new Float64Array(Q);
    const weighted = new Float64Array(Q);
    const random = new Float64Array(Q);
    const pass = new Float64Array(Q);
    let excluded = 0;
    for (let q = 0; q < Q; q++) {
      const p = prepared[q]!;
      const m = p.correct.length;
      if (n > m) {
        if (tooFew === "error") {
          throw new RangeError(
            `${file}: question ${q} (id ${idOf(q)}) has ${m} candidates, fewer than n = ${n} ` +
              `(use tooFewCandidates: "exclude" to leave such questions out of that n)`,
          );
        }
        excluded++;
        exclusions.push({ n, question: q, id: idOf(q), candidates: m });
        for (const values of [...perAggregation.values(), majority, weighted, random, pass])
          values[q] = Number.NaN;
        continue;
      }
      const runs = protocol === "reference" || n === m ? 1 : subsetCount;
      const pool = new Int32Array(m);
      const subset = new Int32Array(n);
      const randomSource = createRandom(deriveSeed(seed, n, q));
      const sums = new Float64Array(neededAggregations.length);
      let majoritySum = 0;
      let weightedSum = 0;
      let randomSum = 0;
      let passSum = 0;
      for (let run = 0; run < runs; run++) {
        if (runs === 1) {
          for (let k = 0; k < n; k++) subset[k] = k;
        } else {
          for (let k = 0; k < m; k++) pool[k] = k;
          sampleWithoutReplacement(pool, n, randomSource, subset);
        }
        for (let a = 0; a < neededAggregations.length; a++) {
          sums[a]! += p.correct[pickHighestScore(p.scores[a]!, subset, n)]!;
        }
        const byCount = pickByVote(p.groups, null, subset, n, p.scratch);
        majoritySum += byCount === -1 ? 0 : p.correct[byCount]!;
        const byWeight = pickByVote(p.groups, p.weights, subset, n, p.scratch);
        weightedSum += byWeight === -1 ? 0 : p.correct[byWeight]!;
        if (protocol === "reference") {
          let correctInSubset = 0;
          for (let k = 0; k < n; k++) correctInSubset += p.correct[subset[k]!]!;
          randomSum += correctInSubset / n;
          passSum += correctInSubset > 0 ? 1 : 0;
        }
      }
      for (let a = 0; a < neededAggregations.length; a++) {
        perAggregation.get(neededAggregations[a]!)![q] = sums[a]! / runs;
      }
      majority[q] = majoritySum / runs;
      weighted[q] = weightedSum / runs;
      if (protocol === "reference") {
        random[q] = randomSum;
        pass[q] = passSum;
      } else {
        random[q] = p.correctCount / m;
        pass[q] = passAtNUnbiased(m, p.correctCount, n);
      }
    }
    const point = (values: Float64Array): CurvePoint => ({ n, ...bootstrapMean(values, plan), excluded });
    methods.bon.push(point(perAggregation.get(aggregation)!));
    methods["orm-last"].push(point(perAggregation.get("last")!));
    methods["weighted-vote"].push(point(weighted));
    methods.majority.push(point(majority));
    methods.random.push(point(random));
    methods.pass.push(point(pass));
    for (const name of sweepAggregations) sweep[name]!.push(point(perAggregation.get(name)!));
  }

  const nMax = Math.max(...ns);
  const choose = (pick: (p: PreparedQuestion, subset: Int32Array, size: number) => number) =>
    prepared.map((p) => {
      const size = Math.min(nMax, p.correct.length);
      const subset = Int32Array.from({ length: size }, (_, k) => k);
      const picked = pick(p, subset, size);
      return picked === -1 ? null : picked;
    });
  const bonIndex = neededAggregations.indexOf(aggregation);
  const lastIndex = neededAggregations.indexOf("last");
  const referenceChoices: BestOfNResult["referenceChoices"] = {
    n: nMax,
    byMethod: {
      bon: choose((p, s, size) => pickHighestScore(p.scores[bonIndex]!, s, size)),
      "orm-last": outcome
        ? prepared.map(() => null)
        : choose((p, s, size) => pickHighestScore(p.scores[lastIndex]!, s, size)),
      "weighted-vote": choose((p, s, size) => pickByVote(p.groups, p.weights, s, size, p.scratch)),
      majority: choose((p, s, size) => pickByVote(p.groups, null, s, size, p.scratch)),
    },
  };

  return {
    protocol,
    ...(outcome ? { scoreLevel } : {}),
    aggregation,
    ns,
    subsets: subsetCount,
    seed,
    bootstrapResamples,
    level,
    questionCount: Q,
    methods: outcome ? { ...methods, "orm-last": null } : methods,
    ...(outcome ? { notApplicable } : {}),
    sweep,
    exclusions,
    referenceChoices,
  };
}

interface PreparedQuestion {
  /** Solution scores per needed aggregation: `[aggregation][candidate]`. */
  scores: Float64Array[];
  correct: Uint8Array;
  correctCount: number;
  groups: Int32Array;
  weights: Float64Array;
  scratch: ReturnType<typeof createVoteScratch>;
}

function prepareQuestion(
  question: BestOfNQuestion,
  q: number,
  aggregations: readonly AggregationName[],
  weightAggregation: AggregationName,
  file: string,
  idOf: (q: number) => string,
  scoreLevel: "step" | "outcome",
): PreparedQuestion {
  const where = `${file}: question ${q} (id ${idOf(q)})`;
  const outcome = scoreLevel === "outcome";
  const stepScores = question.stepScores;
  const outcomeScores = question.outcomeScores;
  if (outcome ? outcomeScores === undefined : stepScores === undefined) {
    throw new RangeError(
      `${where}: no ${outcome ? "outcomeScores (scoreLevel is outcome)" : "stepScores (scoreLevel is step)"}`,
    );
  }
  const m = outcome ? outcomeScores!.length : stepScores!.length;
  if (question.correct.length !== m || question.answerGroups.length !== m) {
    throw new RangeError(
      `${where}: ${m} scored candidates but ${question.correct.length} verdicts and ` +
        `${question.answerGroups.length} answer groups (candidates and scores are misaligned)`,
    );
  }
  if (m === 0) throw new RangeError(`${where}: no candidates`);
  const scores = aggregations.map(() => new Float64Array(m));
  const correct = new Uint8Array(m);
  const groups = new Int32Array(m);
  let correctCount = 0;
  let groupCount = 0;
  for (let c = 0; c < m; c++) {
    if (outcome) {
      // The outcome score is the solution score of every method; no step aggregation applies.
      const score = outcomeScores![c];
      if (typeof score !== "number" || Number.isNaN(score)) {
        throw new RangeError(`${where}, candidate ${c}: outcome score is ${score} (not a number)`);
      }
      for (let a = 0; a < aggregations.length; a++) scores[a]![c] = score;
    } else {
      const steps = stepScores![c]!;
      if (steps.length === 0) throw new RangeError(`${where}, candidate ${c}: no step scores`);
      for (let s = 0; s < steps.length; s++) {
        if (typeof steps[s] !== "number" || Number.isNaN(steps[s])) {
          throw new RangeError(`${where}, candidate ${c}, step ${s}: score is ${steps[s]} (not a number)`);
        }
      }
      for (let a = 0; a < aggregations.length; a++) scores[a]![c] = getAggregation(aggregations[a]!)(steps);
    }
    correct[c] = question.correct[c] ? 1 : 0;
    correctCount += correct[c]!;
    const group = question.answerGroups[c];
    if (group === null || group === undefined) {
      groups[c] = NO_ANSWER_GROUP;
    } else {
      if (!Number.isInteger(group) || group < 0) {
        throw new RangeError(
          `${where}, candidate ${c}: answer group must be a non-negative integer, got ${group}`,
        );
      }
      groups[c] = group;
      groupCount = Math.max(groupCount, group + 1);
    }
  }
  const weightScores = scores[aggregations.indexOf(weightAggregation)]!;
  const weights = Float64Array.from(weightScores, (s) => sigmoid(s));
  return { scores, correct, correctCount, groups, weights, scratch: createVoteScratch(groupCount) };
}
