import type { Question, Scorer, Step, Trajectory } from "@pqm/core/reference";
import type { ArithEnvironment } from "@pqm/data";

/** Counts the tokens a scorer reads for one trajectory (question and steps). */
export type TokenCounter = (trajectory: Trajectory) => number;

/** Whitespace-separated words of the question and every step: the arith environment's token unit. */
export function countTrajectoryWords(trajectory: Trajectory): number {
  let words = countWordsOf(trajectory.question.text);
  for (const step of trajectory.steps) words += countWordsOf(step);
  return words;
}

function countWordsOf(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

/** The logit of a probability, clamped to [eps, 1 - eps] so that 0 and 1 stay finite. */
export function probabilityToLogit(q: number, eps = 1e-9): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`probabilityToLogit: ${q} is not in [0, 1]`);
  const p = Math.min(Math.max(q, eps), 1 - eps);
  return Math.log(p) - Math.log1p(-p);
}

/**
 * The exact-Q oracle of the arith environment as a core `Scorer`: every step's score is the logit
 * of the exact probability that the environment's policy reaches the gold answer from that prefix
 * (clamped at 1e-9, so sigmoid gives the Q-value back to 9 digits). It is the perfect verifier of
 * this environment, so a search guided by it shows that search's ceiling. Throws for questions that
 * are not the environment's, or steps it cannot parse.
 */
export class ExactQScorer implements Scorer {
  readonly name: string;
  readonly environment: ArithEnvironment;

  constructor(environment: ArithEnvironment, options: { name?: string } = {}) {
    this.environment = environment;
    this.name = options.name ?? "exact-q";
  }

  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    return trajectories.map((trajectory) =>
      this.qValues(trajectory.question, trajectory.steps).map((q) => probabilityToLogit(q)),
    );
  }

  /** The exact Q-values after every step prefix. */
  qValues(question: Question, steps: readonly Step[]): number[] {
    return this.environment.exactQValues(question, steps);
  }
}

/** What a {@link MeteredScorer} has spent. */
export interface ScorerSpend {
  /** `scoreSteps` calls. */
  calls: number;
  trajectories: number;
  /** Tokens read (see {@link TokenCounter}). */
  tokens: number;
  /** Wall time inside `scoreSteps`, ms. */
  ms: number;
}

/**
 * Any core `Scorer` (a trained checkpoint, an ONNX export, a remote server, the exact-Q oracle) with
 * its spend counted: calls, trajectories, tokens read and time. Scores are checked: one finite-or-NaN
 * number per step, else an Error naming the scorer, trajectory and step.
 */
export class MeteredScorer {
  readonly scorer: Scorer;
  readonly countTokens: TokenCounter;

  constructor(scorer: Scorer, options: { countTokens?: TokenCounter } = {}) {
    this.scorer = scorer;
    this.countTokens = options.countTokens ?? countTrajectoryWords;
  }

  get name(): string {
    return this.scorer.name;
  }

  /** Scores trajectories in one call; `spend` receives what it cost. */
  async score(trajectories: readonly Trajectory[], spend: ScorerSpend): Promise<number[][]> {
    if (trajectories.length === 0) return [];
    const started = performance.now();
    const scores = await this.scorer.scoreSteps(trajectories);
    spend.ms += performance.now() - started;
    spend.calls += 1;
    spend.trajectories += trajectories.length;
    for (const trajectory of trajectories) spend.tokens += this.countTokens(trajectory);
    if (scores.length !== trajectories.length) {
      throw new Error(
        `scorer ${this.name}: returned ${scores.length} score lists for ${trajectories.length} trajectories`,
      );
    }
    scores.forEach((steps, i) => {
      const expected = trajectories[i]!.steps.length;
      if (!Array.isArray(steps) || steps.length !== expected) {
        throw new Error(
          `scorer ${this.name}: trajectory ${i}: expected ${expected} step scores, got ${Array.isArray(steps) ? steps.length : typeof steps}`,
        );
      }
      steps.forEach((score, t) => {
        if (typeof score !== "number" || score === Infinity || score === -Infinity) {
          throw new Error(
            `scorer ${this.name}: trajectory ${i}, step ${t}: score ${String(score)} is not a finite number`,
          );
        }
      });
    });
    return scores;
  }
}

/**
 * A deterministic scorer's scores remembered per question and path, so that an evaluation that
 * asks for the same path many times (beam copies, methods and budgets on the same questions) runs
 * the model once per distinct path. Only the misses of a call reach the scorer, in one call. The
 * search's own accounting (a {@link MeteredScorer} around this one) still counts every path it asked
 * for, which is what a deployment without the cache would pay. Memory grows with distinct paths:
 * `clear()` between question sets.
 */
export class CachingScorer implements Scorer {
  readonly name: string;
  readonly scorer: Scorer;
  readonly #memo = new Map<string, number[]>();
  #hits = 0;
  #misses = 0;

  constructor(scorer: Scorer) {
    this.scorer = scorer;
    this.name = scorer.name;
  }

  /** Paths answered from memory and paths sent to the scorer, so far. */
  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#memo.size };
  }

  clear(): void {
    this.#memo.clear();
  }

  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    const keys = trajectories.map(
      (t) => `${t.question.id}\u0000${t.question.text}\u0000${t.steps.join("\u0000")}`,
    );
    const missing: number[] = [];
    const queued = new Set<string>();
    keys.forEach((key, i) => {
      if (!this.#memo.has(key) && !queued.has(key)) {
        queued.add(key);
        missing.push(i);
      }
    });
    this.#misses += missing.length;
    this.#hits += trajectories.length - missing.length;
    if (missing.length > 0) {
      const scores = await this.scorer.scoreSteps(missing.map((i) => trajectories[i]!));
      missing.forEach((i, j) => {
        const steps = scores[j];
        if (steps === undefined)
          throw new Error(
            `scorer ${this.name}: returned ${scores.length} score lists for ${missing.length} trajectories`,
          );
        this.#memo.set(keys[i]!, steps);
      });
    }
    return keys.map((key) => [...this.#memo.get(key)!]);
  }
}
