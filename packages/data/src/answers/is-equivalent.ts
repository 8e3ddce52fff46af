import type { AnswerDomain } from "@pqm/core/reference";
import { extractGoldAnswer } from "./extract-answer.js";
import { extractGsmAnswer, extractReferenceGsmNumber, UNANSWERABLE } from "./gsm-answer.js";
import { isMathEquivalent, type MathEquivalenceSettings } from "./math-equivalence.js";
import { DEFAULT_SYMBOLIC_LIMITS } from "./symbolic-equal.js";

/** Options of `isEquivalent`; every field is optional. */
export interface EquivalenceOptions {
  /**
   * `"reference"` reproduces the PQM reference code's GSM rules: the prediction's number is the
   * last run of digits, read without a minus sign or thousands commas, compared exactly, and a
   * `None` gold is always wrong. It does not change MATH comparisons.
   */
  compat?: "reference";
  /** MATH: relative tolerance for answers with a written decimal (default 1e-4). */
  relativeTolerance?: number;
  /** MATH: evaluate expressions with mathjs when strings and numbers differ (default true). */
  symbolic?: boolean;
  /** MATH: longest normalised answer (characters) compared symbolically (default 400). */
  maxSymbolicLength?: number;
  /** MATH: largest expression tree (mathjs nodes) evaluated (default 250). */
  maxExpressionNodes?: number;
  /** MATH: longer inputs (characters) are compared as exact strings only (default 10,000). */
  maxInputLength?: number;
}

/** Default relative tolerance for answers that contain a written decimal. */
export const DEFAULT_RELATIVE_TOLERANCE = 1e-4;

// GSM answers are read from decimals as written; this only absorbs float rounding ("18.00").
const GSM_TOLERANCE = 1e-6;

/**
 * Whether a predicted answer equals the gold answer. Synchronous, never throws, and bounded
 * (about a millisecond for typical answers; see docs/answers.md for measured worst cases).
 * - `"math"`: `prediction` and `gold` are answers (e.g. from `extractAnswer` / the `answer` field);
 *   compared by normalised strings, numbers, structure and symbolic evaluation (`isMathEquivalent`).
 *   A null side is never equal.
 * - `"gsm"`: `prediction` may be a whole response or an extracted answer; its final answer is read
 *   with `extractGsmAnswer`. `gold` is a number, a GSM8K solution ending `#### N`, or `"None"`/null
 *   for a question that lacks information: then the prediction is right exactly when it says the
 *   question cannot be answered. Numbers are equal within 1e-6 relative (1e-6 absolute below 1).
 */
export function isEquivalent(
  prediction: string | null,
  gold: string | null,
  domain: AnswerDomain,
  options: EquivalenceOptions = {},
): boolean {
  if (domain === "gsm") return isGsmEquivalent(prediction, gold, options);
  if (prediction === null || gold === null) return false;
  return isMathEquivalent(prediction, gold, mathSettings(options));
}

function mathSettings(options: EquivalenceOptions): MathEquivalenceSettings {
  return {
    relativeTolerance: options.relativeTolerance ?? DEFAULT_RELATIVE_TOLERANCE,
    symbolic: options.symbolic ?? true,
    limits: {
      maxLatexLength: options.maxSymbolicLength ?? DEFAULT_SYMBOLIC_LIMITS.maxLatexLength,
      maxNodes: options.maxExpressionNodes ?? DEFAULT_SYMBOLIC_LIMITS.maxNodes,
    },
    maxInputLength: options.maxInputLength ?? 10_000,
  };
}

function isGsmEquivalent(
  prediction: string | null,
  gold: string | null,
  options: EquivalenceOptions,
): boolean {
  const goldAnswer = gold === null ? UNANSWERABLE : extractGoldAnswer(gold, "gsm");
  if (goldAnswer === null) return false;
  if (options.compat === "reference") {
    if (goldAnswer === UNANSWERABLE || prediction === null) return false;
    return extractReferenceGsmNumber(prediction) === Number(goldAnswer);
  }
  if (prediction === null) return false;
  const predicted = extractGsmAnswer(prediction);
  if (predicted === null) return false;
  if (goldAnswer === UNANSWERABLE || predicted === UNANSWERABLE) return predicted === goldAnswer;
  const predictedValue = Number(predicted);
  const goldValue = Number(goldAnswer);
  return Math.abs(predictedValue - goldValue) <= GSM_TOLERANCE * Math.max(1, Math.abs(goldValue));
}
