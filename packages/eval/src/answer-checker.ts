import type { AnswerDomain } from "@pqm/core";

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
 * The checker of @pqm/data (`extractAnswer`, `isEquivalent`), loaded on first use so that the metric
 * code of this package can be used without it. Throws when @pqm/data cannot be loaded.
 */
export async function loadDataAnswerChecker(): Promise<AnswerChecker> {
  const data = await import("@pqm/data");
  return {
    name: "@pqm/data",
    extractAnswer: (text, domain) => data.extractAnswer(text, domain),
    isEquivalent: (prediction, gold, domain) => data.isEquivalent(prediction, gold, domain),
  };
}
