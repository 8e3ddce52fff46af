import type { AnswerDomain } from "@pqm/core/reference";

/** Decides whether a predicted final answer matches the gold one (the answers module's `isEquivalent`). */
export type AnswerChecker = (prediction: string | null, gold: string | null, domain: AnswerDomain) => boolean;

/** Reads the final answer out of a solution's text (the answers module's `extractAnswer`). */
export type AnswerExtractor = (text: string, domain: AnswerDomain) => string | null;
