// The answer checker: final-answer extraction and equivalence for MATH and GSM answers.

export { extractAnswer, extractGoldAnswer } from "./extract-answer.js";
export { extractGsmAnswer, saysUnanswerable, UNANSWERABLE } from "./gsm-answer.js";
export type { EquivalenceOptions } from "./is-equivalent.js";
export { DEFAULT_RELATIVE_TOLERANCE, isEquivalent } from "./is-equivalent.js";
export { normalizeMathAnswer } from "./normalize-math-answer.js";
