import type { Question, Step } from "@pqm/core/reference";
import { deriveSeed, SeededRandom } from "@pqm/core/reference";
import type { ArithEnvironment, ArithPolicyState, ArithProblem, ArithWrittenStep } from "@pqm/data";
import {
  arithStateAfter,
  countWords,
  isTerminalArithState,
  parseArithSteps,
  renderArithStep,
} from "@pqm/data";
import type {
  RolloutBatch,
  StepBatch,
  StepPolicy,
  StepPolicyCallOptions,
  StepProposal,
} from "./step-policy.js";

/** Options of {@link ArithStepPolicy}. */
export interface ArithStepPolicyOptions {
  /** Mixed into every sample's random stream (default: the environment's seed). */
  seed?: number;
  /** Default `arith-step-policy`. */
  name?: string;
}

/**
 * The built-in arith environment's policy, one step at a time. A step is drawn from the same exact
 * distribution the environment's `Policy` samples whole solutions from (a skipped reference step
 * writes nothing, so the drawing goes on to the next one), so step-by-step search and best-of-n
 * see the same policy, and the environment's exact Q-values describe both. Tokens are words, as
 * the environment counts them: a step costs the words of `Step k: <text>`.
 *
 * Deterministic: each sample's stream is keyed by the seed, the call's `seed` (else a per-instance
 * call counter), the question, the prefix and the sample index.
 */
export class ArithStepPolicy implements StepPolicy {
  readonly name: string;
  readonly environment: ArithEnvironment;
  readonly seed: number;
  #calls = 0;

  constructor(environment: ArithEnvironment, options: ArithStepPolicyOptions = {}) {
    this.environment = environment;
    this.seed = options.seed ?? environment.seed;
    this.name = options.name ?? "arith-step-policy";
  }

  /** `k` one-step continuations. Throws on an unknown question, an unparsable or finished prefix. */
  async extend(
    question: Question,
    prefix: readonly Step[],
    options: StepPolicyCallOptions,
  ): Promise<StepBatch> {
    options.signal?.throwIfAborted();
    return this.extendSync(question, prefix, options);
  }

  /** The synchronous form of `extend` (the arith policy does no I/O). */
  extendSync(question: Question, prefix: readonly Step[], options: StepPolicyCallOptions): StepBatch {
    const { problem, state } = this.#start(question, prefix, options.k);
    if (isTerminalArithState(problem, state)) {
      throw new RangeError(`arith step policy: ${question.id}: the prefix already ends the solution`);
    }
    const streamSeed = options.seed ?? this.#calls++;
    const key = prefix.join("\n");
    const proposals: StepProposal[] = [];
    for (let sample = 0; sample < options.k; sample++) {
      const rng = new SeededRandom(deriveSeed(this.seed, "step", streamSeed, question.id, key, sample));
      const { written, after } = this.#drawStep(problem, state, rng);
      proposals.push(toProposal(problem, written, prefix.length + 1, isTerminalArithState(problem, after)));
    }
    return {
      proposals,
      calls: 1,
      promptTokens: promptWords(question, prefix),
      completionTokens: proposals.reduce((sum, proposal) => sum + proposal.tokens, 0),
    };
  }

  /** `k` continuations to the end of the solution (best-of-n's sampler). */
  async complete(
    question: Question,
    prefix: readonly Step[],
    options: StepPolicyCallOptions,
  ): Promise<RolloutBatch> {
    options.signal?.throwIfAborted();
    return this.completeSync(question, prefix, options);
  }

  /** The synchronous form of `complete`. */
  completeSync(question: Question, prefix: readonly Step[], options: StepPolicyCallOptions): RolloutBatch {
    const { problem, state } = this.#start(question, prefix, options.k);
    const streamSeed = options.seed ?? this.#calls++;
    const key = prefix.join("\n");
    const rollouts = [];
    let completionTokens = 0;
    for (let sample = 0; sample < options.k; sample++) {
      const rng = new SeededRandom(deriveSeed(this.seed, "rollout", streamSeed, question.id, key, sample));
      const written = this.environment.model.sample(problem, state, rng);
      const steps = written.map((step, i) =>
        toProposal(problem, step, prefix.length + i + 1, i === written.length - 1),
      );
      completionTokens += steps.reduce((sum, step) => sum + step.tokens, 0);
      rollouts.push({ steps });
    }
    return { rollouts, calls: 1, promptTokens: promptWords(question, prefix), completionTokens };
  }

  #start(
    question: Question,
    prefix: readonly Step[],
    k: number,
  ): { problem: ArithProblem; state: ArithPolicyState } {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`arith step policy: k must be >= 1, got ${k}`);
    const problem = this.environment.problemFor(question);
    return { problem, state: arithStateAfter(problem, parseArithSteps(problem, prefix)) };
  }

  // Draws outcomes until one writes a step: a skip moves to the next reference step silently.
  #drawStep(
    problem: ArithProblem,
    state: ArithPolicyState,
    rng: SeededRandom,
  ): { written: ArithWrittenStep; after: ArithPolicyState } {
    const model = this.environment.model;
    for (;;) {
      const outcomes = model.outcomes(problem, state);
      let u = rng.next();
      let chosen = outcomes[outcomes.length - 1]!;
      for (const outcome of outcomes) {
        u -= outcome.probability;
        if (u < 0) {
          chosen = outcome;
          break;
        }
      }
      state = model.advance(state, chosen);
      if (chosen.written !== null) return { written: chosen.written, after: state };
      // The last reference step is never skipped, so the loop ends with a written step.
    }
  }
}

function toProposal(
  problem: ArithProblem,
  written: ArithWrittenStep,
  position: number,
  terminal: boolean,
): StepProposal {
  const text = renderArithStep(problem, written);
  return {
    text,
    raw: terminal ? text : `${text}\n`,
    stop: terminal ? "end" : "delimiter",
    terminal,
    finalAnswer: written.answer === null ? null : String(written.answer),
    tokens: countWords(`Step ${position}: ${text}`),
  };
}

function promptWords(question: Question, prefix: readonly Step[]): number {
  return countWords(question.text) + prefix.reduce((sum, step) => sum + countWords(step) + 2, 0);
}
