/**
 * The MDP of process reward modeling as plain, JSON-serializable data (see docs/method.md, section 2).
 * A state is a question plus the steps written so far; an action is the next step; the reward is
 * 1 at the end when the final answer is right.
 */

/** Any value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Which answer checker applies: competition maths (`\boxed{}`, LaTeX) or grade-school numbers. */
export type AnswerDomain = "math" | "gsm";

/** Reads the final answer a solution states (`null`: it states none), e.g. `extractAnswer` of @pqm/data. */
export type AnswerExtractor = (text: string, domain: AnswerDomain) => string | null;

/**
 * Whether a predicted final answer (`null`: none stated) is right for the gold one (`null`: the question
 * has no answer, e.g. GSM-Plus critical thinking); e.g. `isEquivalent` of @pqm/data.
 */
export type AnswerEquivalence = (
  prediction: string | null,
  gold: string | null,
  domain: AnswerDomain,
) => boolean;

/** An answer checker: final-answer extraction and comparison, under a name recorded with its verdicts. */
export interface AnswerChecker {
  /** Recorded in results so verdicts can be traced to the checker that made them. */
  readonly name: string;
  /** The final answer stated in a solution, or `null` when it states none. */
  extractAnswer: AnswerExtractor;
  /** Whether a prediction is right for the gold answer; also used to compare two predictions for grouping. */
  isEquivalent: AnswerEquivalence;
}

/** A problem to solve, with its gold final answer when known (`null`: the question has no answer). */
export interface Question {
  /** Stable identifier within its data set (e.g. MATH500's `unique_id`, or the row index). */
  id: string;
  /** The problem statement. */
  text: string;
  /** Gold final answer as text; `null` when the question cannot be answered (GSM-Plus "None"). */
  answer: string | null;
  /** Which answer checker applies. */
  domain: AnswerDomain;
  /** Loader-specific extras (subject, level, perturbation type...). */
  meta?: Record<string, JsonValue>;
}

/** One step of a solution: the text of one action of the MDP, without any step tag. */
export type Step = string;

/** A question plus a step-by-step solution (a trajectory of the MDP). */
export interface Trajectory {
  question: Question;
  steps: Step[];
  /** Loader-specific extras (generator model, source line...). */
  meta?: Record<string, JsonValue>;
}

/** A hard step label: 1 when a correct answer can still be reached after the step, 0 when not. */
export type HardLabel = 0 | 1;

/** A soft step label in [0, 1]: the estimated probability of reaching the correct answer (a Q-value). */
export type SoftLabel = number;

/** A trajectory with a label per step. `hardLabels.length === steps.length`, likewise `softLabels`. */
export interface LabeledTrajectory extends Trajectory {
  hardLabels: HardLabel[];
  /** Soft (Monte-Carlo) labels, when the source has them. */
  softLabels?: SoftLabel[];
}

/** A trajectory with the raw score (a logit, unbounded) a process reward model gave each step. */
export interface ScoredTrajectory extends Trajectory {
  stepScores: number[];
}

/** Padding value of a label in padded `[batch, steps]` label matrices; such positions are masked. */
export const LABEL_PAD = -100;

/** Token counts of a call to a language model, when the model reports them. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** Sampling options for a policy. */
export interface PolicySampleOptions {
  /** How many independent continuations to sample. */
  n: number;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  /** A seed for policies that can be seeded (the built-in environment always is). */
  seed?: number;
  signal?: AbortSignal;
}

/** One continuation sampled by a policy from a solution prefix. */
export interface PolicyCompletion {
  /** The text the policy wrote after the prefix. */
  text: string;
  /** That text split into steps. */
  steps: Step[];
  /** The final answer the continuation states, or `null` when it states none. */
  finalAnswer: string | null;
  usage?: TokenUsage;
}

/**
 * A policy (the "completer" of automatic annotation, the sampler of best-of-n candidates): given a
 * question and the steps written so far, it continues the solution to the end, `options.n` times.
 */
export interface Policy {
  readonly name: string;
  complete(
    question: Question,
    prefix: readonly Step[],
    options: PolicySampleOptions,
  ): Promise<PolicyCompletion[]>;
}

/**
 * A process reward model as the rest of the toolkit sees it: raw scores (logits) for every step of
 * every trajectory, one array per trajectory in input order, each as long as its `steps`.
 */
export interface Scorer {
  readonly name: string;
  scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]>;
}
