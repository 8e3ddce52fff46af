import type { AnswerChecker } from "@pqm/core/reference";
import { extractAnswer, isEquivalent } from "@pqm/data";

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
