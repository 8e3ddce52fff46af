import { lastBoxedContent } from "./latex-scan.js";

/** The answer text used for "the question cannot be answered" (GSM-Plus critical-thinking gold). */
export const UNANSWERABLE = "None";

// A number with an optional sign, thousands commas and decimals. A minus counts as a sign only
// when it does not follow a word character, a closing bracket or a dot ("16-3-4" is subtraction).
// A fraction "1/4" (GSM-Plus golds have them) is one number.
const NUMBER_PATTERN =
  /(?<![\w.)\]])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\/\d+(?:\.\d+)?(?![\d.]))?|(?<![\w.)\]])-?\.\d+/g;
// The reference's pattern: digits only, no sign and no thousands commas.
const REFERENCE_NUMBER_PATTERN = /\d+\.\d+|\d+/g;

const ANSWER_MARKERS: readonly RegExp[] = [
  /(?:the\s+)?(?:final\s+)?answer\s+is\s*[:：]?/gi,
  /####/g,
  /(?:^|\n)\s*(?:final\s+)?answer\s*[:：]/gi,
];

// Phrases that say the question cannot be answered. Each needs a negation or a lack-word, so
// "can be determined" or "enough information to" does not match.
const UNANSWERABLE_PATTERNS: readonly RegExp[] = [
  /\b(?:can\s*not|can't|cannot|could\s*not|couldn't|unable\s+to|impossible\s+to|not\s+possible\s+to|no\s+way\s+to)\s+(?:be\s+)?(?:precisely\s+|exactly\s+|uniquely\s+)?(?:determine|determined|calculate|calculated|compute|computed|answer|answered|find|found|know|known|solve|solved|tell|say|conclude|figure\s+out)\b/i,
  /\b(?:not|insufficient|lack\s+of|lacking|missing|no)\s+(?:enough\s+|sufficient\s+)?(?:information|info|data|details)\b/i,
  /\b(?:not\s+enough|insufficient)\s+(?:information|info|data|details)\b/i,
  /\b(?:information|data|details?)\s+(?:is|are)\s+(?:missing|insufficient|incomplete|not\s+(?:given|provided|sufficient|enough|specified))\b/i,
  /\b(?:does|do|did)\s*(?:not|n't)\s+(?:provide|give|specify|mention|state|tell\s+us|include)\s+(?:enough|the|how|any|what|information|us)\b/i,
  /\b(?:is|are)\s+(?:not\s+(?:given|provided|specified|stated|mentioned)|unknown|undetermined|indeterminate)\b/i,
  /\b(?:we|i)\s+(?:don't|do\s+not)\s+know\b/i,
  /\b(?:unanswerable|undeterminable|indeterminable|cannot\s+be\s+answered)\b/i,
  /\b(?:are|am|is)\s+unaware\s+of\b/i,
];
const UNANSWERABLE_ANSWER =
  /^\s*[$\\([{]*\s*(?:none|n\/a|null|unknown|undefined|undetermined|indeterminate|no\s+answer|not\s+enough)\b/i;

/**
 * Reads a GSM number: removes thousands commas, `$` and `%` and a trailing period, reads a
 * fraction `a/b` as its value, and returns the value, or null when the text is not one number.
 */
export function parseGsmNumber(text: string): number | null {
  const cleaned = text
    .trim()
    .replace(/\\\$|\$|\\%|%/g, "")
    .replace(/\.$/, "")
    .trim();
  const fraction = /^([-+]?\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(cleaned);
  if (fraction !== null) {
    const value = Number(fraction[1]) / Number(fraction[2]);
    return Number.isFinite(value) ? value : null;
  }
  if (!/^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[-+]?\.\d+$/.test(cleaned)) return null;
  const value = Number(cleaned.replace(/,/g, ""));
  return Number.isFinite(value) ? value : null;
}

/**
 * Whether a text says the question cannot be answered: "cannot be determined", "not enough
 * information", "unanswerable" and similar phrases (the README lists them), or an answer marker
 * followed by None, N/A or unknown.
 */
export function saysUnanswerable(text: string): boolean {
  const normalized = text.replace(/[\u2018\u2019]/g, "'");
  return UNANSWERABLE_PATTERNS.some((pattern) => pattern.test(normalized));
}

/**
 * The final answer of a GSM-style response as a canonical number string (`"-1234.5"`), `"None"`
 * when the response says the question cannot be answered, or null when it has no answer. The
 * text after the last answer marker ("The answer is: N", `#### N`, "Answer: N") decides when
 * present; then the last `\boxed{}`; then the last number in the text, unless an
 * unanswerable phrase comes after it.
 */
export function extractGsmAnswer(text: string): string | null {
  const tail = textAfterLastMarker(text);
  if (tail !== null) {
    const firstLine = tail.split("\n").find((line) => line.trim() !== "") ?? "";
    if (UNANSWERABLE_ANSWER.test(firstLine) || saysUnanswerable(firstLine)) return UNANSWERABLE;
    const number = firstNumber(firstLine);
    if (number !== null) return number;
  }
  const boxed = lastBoxedContent(text);
  if (boxed !== null) {
    if (UNANSWERABLE_ANSWER.test(boxed) || saysUnanswerable(boxed)) return UNANSWERABLE;
    const number = firstNumber(boxed);
    if (number !== null) return number;
  }
  let lastNumber: RegExpExecArray | null = null;
  for (const match of text.matchAll(NUMBER_PATTERN)) lastNumber = match;
  const afterLastNumber = lastNumber === null ? text : text.slice(lastNumber.index + lastNumber[0].length);
  if (saysUnanswerable(afterLastNumber)) return UNANSWERABLE;
  // "The problem does not give the price of the 3 apples.": a closing sentence that says so wins
  // over the numbers it mentions, unless it computes something.
  const sentences = text.trim().split(/(?<=[.!?])\s+|\n+/);
  const lastSentence = sentences[sentences.length - 1] ?? "";
  if (!lastSentence.includes("=") && saysUnanswerable(lastSentence)) return UNANSWERABLE;
  return lastNumber === null ? null : canonicalNumber(lastNumber[0]);
}

/**
 * The reference implementation's reading of a response: the last run of digits (with decimals),
 * without a sign and without thousands commas (`-1,234` reads as 234), as a number.
 */
export function extractReferenceGsmNumber(text: string): number | null {
  let last: string | null = null;
  for (const match of text.matchAll(REFERENCE_NUMBER_PATTERN)) last = match[0];
  return last === null ? null : Number(last);
}

function textAfterLastMarker(text: string): string | null {
  let best = -1;
  for (const marker of ANSWER_MARKERS) {
    marker.lastIndex = 0;
    for (const match of text.matchAll(marker)) best = Math.max(best, match.index + match[0].length);
  }
  return best < 0 ? null : text.slice(best);
}

function firstNumber(text: string): string | null {
  NUMBER_PATTERN.lastIndex = 0;
  const match = NUMBER_PATTERN.exec(text);
  NUMBER_PATTERN.lastIndex = 0;
  return match === null ? null : canonicalNumber(match[0]);
}

function canonicalNumber(text: string): string | null {
  const value = parseGsmNumber(text);
  if (value === null) return null;
  return String(Object.is(value, -0) ? 0 : value);
}
