import type { JsonValue, LabeledTrajectory, Question, Step, Trajectory } from "@pqm/core/reference";
import { writeCandidates, writeMathShepherd } from "../formats/index.js";
import { ArithPolicy } from "./arith-policy.js";
import type { ArithPolicyOptions } from "./arith-policy-model.js";
import {
  ArithPolicyModel,
  arithProcessLabels,
  arithQValues,
  initialArithState,
  referenceArithSteps,
  renderArithStep,
} from "./arith-policy-model.js";
import type { ArithProblem, ArithProblemOptions } from "./arith-problem.js";
import { arithProblemFromJson, generateArithProblem, resolveArithProblemOptions } from "./arith-problem.js";

/** Options of an arith environment. Everything it produces is a pure function of these. */
export interface ArithEnvironmentOptions {
  /** The seed of every problem and sample (default 0). */
  seed?: number;
  problems?: ArithProblemOptions;
  policy?: ArithPolicyOptions;
  /** The policy's `name`, written as `model_name` in candidate files (default "arith-policy"). */
  policyName?: string;
}

/** One candidate solution in the PQM release format, plus its exact per-step truths. */
export interface ArithCandidateResponse {
  text: string;
  model_name: string;
  /** The solution split into steps (no `Step k:` tags). */
  steps: string[];
  /** The exact process label of each step. */
  process_labels: number[];
  /** The exact Q-value after each step under the environment's policy. */
  q_values: number[];
}

/** One question of a best-of-n candidate file (`[{question, responses}]`). */
export interface ArithCandidateEntry {
  question: string;
  /** The gold answer (extra to the plain format). */
  answer: string;
  responses: ArithCandidateResponse[];
}

/** A sampled solution with its exact per-step truths. */
export interface ArithSolution extends Trajectory {
  /** The full text as the policy wrote it (`Step k: ...` lines). */
  text: string;
  finalAnswer: string | null;
  processLabels: Array<0 | 1>;
  qValues: number[];
}

/**
 * The built-in "arith" environment: a seeded generator of short GSM8K-style multi-step word
 * problems, a stochastic policy that writes step-by-step solutions with model-like mistakes, and the
 * exact truths for any solution prefix (process labels and Q-values by exact enumeration).
 * Problems are addressed by split and index (`train`, `test`, or any name) and are generated on
 * demand, so the environment never holds a data set in memory beyond what was asked for.
 */
export class ArithEnvironment {
  readonly seed: number;
  readonly problemOptions: Required<ArithProblemOptions>;
  readonly model: ArithPolicyModel;
  readonly policy: ArithPolicy;
  readonly #byId = new Map<string, ArithProblem>();
  readonly #byText = new Map<string, ArithProblem>();

  /** Builds the environment; throws a RangeError on bad knobs. */
  constructor(options: ArithEnvironmentOptions = {}) {
    this.seed = options.seed ?? 0;
    this.problemOptions = resolveArithProblemOptions(options.problems);
    this.model = new ArithPolicyModel(options.policy);
    this.policy = new ArithPolicy(this.model, (question) => this.problemFor(question), {
      seed: this.seed,
      name: options.policyName ?? "arith-policy",
    });
  }

  /** The problem at `index` of `split` (generated on first use, then remembered). */
  problem(split: string, index: number): ArithProblem {
    const id = `arith-${split}-${index}`;
    const known = this.#byId.get(id);
    if (known !== undefined) return known;
    const problem = generateArithProblem(this.seed, split, index, this.problemOptions);
    this.#byId.set(id, problem);
    this.#byText.set(problem.text, problem);
    return problem;
  }

  /** The problem as a `Question` (domain "gsm"; `meta.arith` carries the problem itself). */
  question(split: string, index: number): Question {
    return arithQuestion(this.problem(split, index));
  }

  /** `count` training questions starting at `offset`. */
  trainQuestions(count: number, offset = 0): Question[] {
    return range(count).map((i) => this.question("train", offset + i));
  }

  /** `count` test questions starting at `offset` (an independent stream from the training split). */
  testQuestions(count: number, offset = 0): Question[] {
    return range(count).map((i) => this.question("test", offset + i));
  }

  /**
   * The problem behind a question: from `meta.arith` when present, else by id or by text among the
   * problems this environment generated. Throws an Error when the question is not an arith question.
   */
  problemFor(question: Question | string): ArithProblem {
    if (typeof question !== "string" && question.meta?.arith !== undefined) {
      return arithProblemFromJson(question.meta.arith, `question ${question.id}`);
    }
    const text = typeof question === "string" ? question : question.text;
    const found =
      (typeof question === "string" ? undefined : this.#byId.get(question.id)) ??
      this.#byText.get(text.trim());
    if (found === undefined) {
      throw new Error(
        `arith: unknown question (generate it with this environment first): ${text.slice(0, 80)}`,
      );
    }
    return found;
  }

  /** The question whose text is `text`, among the problems generated so far, or undefined. */
  findQuestionByText(text: string): Question | undefined {
    const problem = this.#byText.get(text.trim());
    return problem === undefined ? undefined : arithQuestion(problem);
  }

  /** The correct step-by-step solution (no `Step k:` tags). */
  referenceSteps(question: Question): Step[] {
    const problem = this.problemFor(question);
    return referenceArithSteps(problem).map((step) => renderArithStep(problem, step));
  }

  /** Exact process labels of a solution's steps (1 until the first mistake, then 0). */
  exactProcessLabels(question: Question, steps: readonly Step[]): Array<0 | 1> {
    return arithProcessLabels(this.problemFor(question), steps);
  }

  /** Exact Q-values after every step prefix under this environment's policy. */
  exactQValues(question: Question, steps: readonly Step[]): number[] {
    return arithQValues(this.model, this.problemFor(question), steps);
  }

  /** V(x): the exact probability that the policy solves the question from scratch. */
  exactValue(question: Question): number {
    return this.model.exactQ(this.problemFor(question), initialArithState());
  }

  /** The exact Q-value of one prefix (the empty prefix gives V(x)). */
  exactQValue(question: Question, prefix: readonly Step[]): number {
    const values = this.exactQValues(question, prefix);
    return values.length === 0 ? this.exactValue(question) : (values[values.length - 1] as number);
  }

  /** `n` solutions sampled by the policy with their exact truths; deterministic for `sampleSeed`. */
  sampleSolutions(question: Question, n: number, sampleSeed = 0): ArithSolution[] {
    return this.policy.completeSync(question, [], { n, seed: sampleSeed }).map((completion) => ({
      question,
      steps: completion.steps,
      text: completion.text,
      finalAnswer: completion.finalAnswer,
      processLabels: this.exactProcessLabels(question, completion.steps),
      qValues: this.exactQValues(question, completion.steps),
    }));
  }

  /**
   * A training corpus labelled with the exact truths: `samplesPerQuestion` sampled solutions for
   * each of `questions` training questions; `hardLabels` are the exact process labels and
   * `softLabels` the exact Q-values. (Monte-Carlo labels: pass these trajectories to `annotate`.)
   */
  exactTrainingCorpus(options: {
    questions: number;
    samplesPerQuestion: number;
    offset?: number;
    sampleSeed?: number;
  }): LabeledTrajectory[] {
    const corpus: LabeledTrajectory[] = [];
    for (const question of this.trainQuestions(options.questions, options.offset ?? 0)) {
      for (const solution of this.sampleSolutions(
        question,
        options.samplesPerQuestion,
        options.sampleSeed ?? 0,
      )) {
        corpus.push({
          question: stripMeta(question),
          steps: solution.steps,
          hardLabels: solution.processLabels,
          softLabels: solution.qValues,
          meta: { source: "arith", finalAnswer: solution.finalAnswer },
        });
      }
    }
    return corpus;
  }

  /**
   * Unlabelled sampled solutions of training questions, ready for Monte-Carlo annotation. Each
   * question keeps `meta.arith`, so the policy can continue its prefixes.
   */
  sampleTrajectories(options: {
    questions: number;
    samplesPerQuestion: number;
    offset?: number;
    split?: string;
    sampleSeed?: number;
  }): Trajectory[] {
    const split = options.split ?? "train";
    const trajectories: Trajectory[] = [];
    for (let i = 0; i < options.questions; i++) {
      const question = this.question(split, (options.offset ?? 0) + i);
      for (const completion of this.policy.completeSync(question, [], {
        n: options.samplesPerQuestion,
        seed: options.sampleSeed ?? 0,
      })) {
        trajectories.push({ question, steps: completion.steps });
      }
    }
    return trajectories;
  }

  /**
   * A best-of-n candidate file in the PQM release format for `questions` test questions with `n`
   * sampled solutions each; every response also carries `steps`, `process_labels` and `q_values`.
   */
  candidateFile(options: {
    questions: number;
    n: number;
    offset?: number;
    sampleSeed?: number;
    split?: string;
  }): ArithCandidateEntry[] {
    const split = options.split ?? "test";
    return range(options.questions).map((i) => {
      const question = this.question(split, (options.offset ?? 0) + i);
      return {
        question: question.text,
        answer: question.answer ?? "",
        responses: this.sampleSolutions(question, options.n, options.sampleSeed ?? 0).map((solution) => ({
          text: solution.text,
          model_name: this.policy.name,
          steps: solution.steps,
          process_labels: solution.processLabels,
          q_values: solution.qValues,
        })),
      };
    });
  }

  /**
   * Writes `exactTrainingCorpus(options)` as Math-Shepherd JSONL (with `soft_label` = exact Q) to
   * `path`, through a temporary file. Returns the number of rows.
   */
  async writeExactTrainingCorpus(
    path: string,
    options: { questions: number; samplesPerQuestion: number; offset?: number; sampleSeed?: number },
  ): Promise<number> {
    return writeMathShepherd(path, this.exactTrainingCorpus(options));
  }

  /**
   * Writes `candidateFile(options)` to `path` in the PQM release format (a JSON list; each response
   * also carries `steps`, `process_labels` and `q_values`). Returns the number of questions.
   */
  async writeCandidateFile(
    path: string,
    options: { questions: number; n: number; offset?: number; sampleSeed?: number; split?: string },
  ): Promise<number> {
    const entries = this.candidateFile(options);
    return writeCandidates(
      path,
      entries.map((entry, index) => ({
        index,
        question: entry.question,
        responses: entry.responses.map((response) => ({
          text: response.text,
          modelName: response.model_name,
          steps: response.steps,
          annotations: {
            steps: response.steps,
            processLabels: response.process_labels,
            qValues: response.q_values,
          },
        })),
      })),
    );
  }
}

/** A problem as a `Question`; `meta.arith` holds the problem so any environment can continue it. */
export function arithQuestion(problem: ArithProblem): Question {
  return {
    id: problem.id,
    text: problem.text,
    answer: String(problem.answer),
    domain: "gsm",
    meta: { arith: problem as unknown as JsonValue },
  };
}

function stripMeta(question: Question): Question {
  return { id: question.id, text: question.text, answer: question.answer, domain: question.domain };
}

function range(count: number): number[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`arith: bad count ${count}`);
  return Array.from({ length: count }, (_, i) => i);
}
