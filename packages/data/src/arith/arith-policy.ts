import type { Policy, PolicyCompletion, PolicySampleOptions, Question, Step } from "@pqm/core/reference";
import { deriveSeed, SeededRandom } from "@pqm/core/reference";
import type { ArithPolicyModel, ArithWrittenStep } from "./arith-policy-model.js";
import { arithStateAfter, parseArithSteps, renderArithStep } from "./arith-policy-model.js";
import type { ArithProblem } from "./arith-problem.js";

/** Counts whitespace-separated words: the arith policy's stand-in for tokens. */
export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

/**
 * The built-in policy behind the `Policy` interface. It reads the prefix back into its state
 * (`parseArithSteps`), so it continues any prefix it (or the reference solution) wrote, and it is
 * deterministic: each continuation's random stream is keyed by the policy seed, `options.seed`
 * (or, when absent, a per-instance call counter), the question id, the prefix and the sample index.
 * `temperature`, `topP`, `maxTokens` and `stop` are ignored: the exact Q-values describe the policy
 * as configured. `usage` counts words, not tokens.
 */
export class ArithPolicy implements Policy {
  readonly name: string;
  readonly model: ArithPolicyModel;
  readonly seed: number;
  readonly #resolve: (question: Question) => ArithProblem;
  #calls = 0;

  /** `resolveProblem` maps a question to its problem and throws for questions it does not know. */
  constructor(
    model: ArithPolicyModel,
    resolveProblem: (question: Question) => ArithProblem,
    options: { seed?: number; name?: string } = {},
  ) {
    this.model = model;
    this.#resolve = resolveProblem;
    this.seed = options.seed ?? 0;
    this.name = options.name ?? "arith-policy";
  }

  /** Continues the solution `options.n` times. Throws on an unknown question or an unparsable prefix. */
  async complete(
    question: Question,
    prefix: readonly Step[],
    options: PolicySampleOptions,
  ): Promise<PolicyCompletion[]> {
    options.signal?.throwIfAborted();
    return this.completeSync(question, prefix, options);
  }

  /** The synchronous form of `complete` (the arith policy does no I/O). */
  completeSync(
    question: Question,
    prefix: readonly Step[],
    options: PolicySampleOptions,
  ): PolicyCompletion[] {
    if (!Number.isInteger(options.n) || options.n < 0)
      throw new RangeError(`arith policy: bad n ${options.n}`);
    const problem = this.#resolve(question);
    const parsedPrefix = parseArithSteps(problem, prefix);
    const streamSeed = options.seed ?? this.#calls++;
    const promptWords =
      countWords(question.text) + prefix.reduce((sum, step) => sum + countWords(step) + 2, 0);
    const completions: PolicyCompletion[] = [];
    for (let sample = 0; sample < options.n; sample++) {
      const rng = new SeededRandom(deriveSeed(this.seed, streamSeed, question.id, prefix.join("\n"), sample));
      const written = this.model.sample(problem, arithStateAfter(problem, parsedPrefix), rng);
      completions.push(renderCompletion(problem, written, prefix.length, promptWords));
    }
    return completions;
  }
}

function renderCompletion(
  problem: ArithProblem,
  written: readonly ArithWrittenStep[],
  offset: number,
  promptWords: number,
): PolicyCompletion {
  const steps = written.map((step) => renderArithStep(problem, step));
  const text = steps.map((step, i) => `Step ${offset + i + 1}: ${step}`).join("\n");
  const last = written[written.length - 1];
  return {
    text,
    steps,
    finalAnswer: last?.answer === undefined || last.answer === null ? null : String(last.answer),
    usage: { promptTokens: promptWords, completionTokens: countWords(text) },
  };
}
