import type { Question, Step } from "@pqm/core/reference";

/** Why the generation of one step stopped. */
export type StepStop =
  /** At the step delimiter: more steps follow. */
  | "delimiter"
  /** The model ended the solution (end of sequence, or it stated the final answer). */
  | "end"
  /** The token limit cut the step short. */
  | "length";

/** One step a policy proposed after a prefix. */
export interface StepProposal {
  /** The step's text, without step header or delimiter (a core `Step`). */
  text: string;
  /**
   * Exactly what the policy generated for this step, with the delimiter put back when the step
   * ended on it, so that concatenating the raw texts of a path gives the model's own text.
   */
  raw: string;
  stop: StepStop;
  /** The solution ends with this step (it stopped for any reason but the delimiter, or states an answer). */
  terminal: boolean;
  /** The final answer the step states, or null. */
  finalAnswer: string | null;
  /** Tokens generated for this step (as the server reports them; the arith policy counts words). */
  tokens: number;
}

/** What one `extend` call returned and cost. */
export interface StepBatch {
  proposals: StepProposal[];
  /** Policy calls made (HTTP requests for a server policy; 1 for an in-process policy). */
  calls: number;
  promptTokens: number;
  /** Generated tokens of the whole call (the sum of the proposals' `tokens`). */
  completionTokens: number;
}

/** One full continuation to the end of the solution, step by step. */
export interface Rollout {
  steps: StepProposal[];
}

/** What one `complete` call returned and cost. */
export interface RolloutBatch {
  rollouts: Rollout[];
  calls: number;
  promptTokens: number;
  completionTokens: number;
}

/** Options of a step policy call. */
export interface StepPolicyCallOptions {
  /** How many independent samples. */
  k: number;
  /** Keys the samples' randomness (a search derives one per call, so reruns repeat themselves). */
  seed?: number;
  /** Sampling temperature for server policies (0: greedy, used by lookahead). */
  temperature?: number;
  signal?: AbortSignal;
}

/**
 * A step-level policy: extends a partial solution by one step, `k` times, or continues it to the
 * end (best-of-n's sampler), reporting the tokens it generated and the calls it made.
 */
export interface StepPolicy {
  readonly name: string;
  extend(question: Question, prefix: readonly Step[], options: StepPolicyCallOptions): Promise<StepBatch>;
  complete(
    question: Question,
    prefix: readonly Step[],
    options: StepPolicyCallOptions,
  ): Promise<RolloutBatch>;
}
