// The answer checker: final-answer extraction and equivalence for MATH and GSM answers.

export type { AnswerDomain } from "./extract-answer.js";
export { extractAnswer, extractGoldAnswer } from "./extract-answer.js";
export {
  extractGsmAnswer,
  extractReferenceGsmNumber,
  parseGsmNumber,
  saysUnanswerable,
  UNANSWERABLE,
} from "./gsm-answer.js";
export type { EquivalenceOptions } from "./is-equivalent.js";
export { DEFAULT_RELATIVE_TOLERANCE, isEquivalent } from "./is-equivalent.js";
export { lastBoxedContent } from "./latex-scan.js";
export type { MathjsExpression } from "./latex-to-mathjs.js";
export { LatexTranslationError, latexToMathjs } from "./latex-to-mathjs.js";
export type { MathEquivalenceSettings } from "./math-equivalence.js";
export { isMathEquivalent } from "./math-equivalence.js";
export { normalizeMathAnswer } from "./normalize-math-answer.js";
export { parseNumberLiteral } from "./parse-number.js";
export type { SymbolicLimits } from "./symbolic-equal.js";
export { DEFAULT_SYMBOLIC_LIMITS, symbolicEqual } from "./symbolic-equal.js";
