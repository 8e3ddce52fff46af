import type { AnswerDomain } from "@pqm/core/reference";
import { extractAnswer, isEquivalent } from "@pqm/data";

/** What best-of-n needs from an answer checker: extract a final answer, compare two answers. */
export interface AnswerChecker {
  /** Recorded in results so verdicts can be traced to the checker that made them. */
  readonly name: string;
  /** The final answer stated in a solution, or `null` when it states none. */
  extractAnswer(text: string, domain: AnswerDomain): string | null;
  /**
   * Whether a predicted answer (`null`: none stated) is right for the gold one (`null`: the question
   * has no answer, e.g. GSM-Plus critical thinking); also used to compare two predictions for grouping.
   */
  isEquivalent(prediction: string | null, gold: string | null, domain: AnswerDomain): boolean;
}

/**
 * The checker of @pqm/data (`extractAnswer`, `isEquivalent`: math-aware extraction and equivalence).
 * @pqm/data is a dependency of this package (pure JavaScript), imported like any other module.
 */
export const dataAnswerChecker: AnswerChecker = {
  name: "@pqm/data",
  extractAnswer: (text, domain) => extractAnswer(text, domain),
  isEquivalent: (prediction, gold, domain) => isEquivalent(prediction, gold, domain),
};

/** `dataAnswerChecker`, as a promise (the form earlier callers use). */
export async function loadDataAnswerChecker(): Promise<AnswerChecker> {
  return dataAnswerChecker;
}
