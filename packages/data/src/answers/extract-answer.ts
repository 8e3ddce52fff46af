import type { AnswerDomain } from "@pqm/core/reference";
import { extractGsmAnswer, parseGsmNumber, UNANSWERABLE } from "./gsm-answer.js";
import { lastBoxedContent } from "./latex-scan.js";

// "The answer is X", "The final answer is $X$", "The answer is: X" (MetaMath), "Final Answer: X".
const MATH_ANSWER_MARKER = /(?:(?:the\s+)?(?:final\s+)?answer\s+is|final\s+answer\s*[:：])\s*[:：]?/gi;

/**
 * The final answer of a solution or model response.
 * - `"math"`: the content of the last `\boxed{}`/`\fbox{}` (nested braces, `\boxed 5`); else the
 *   text after the last "The answer is" / "The final answer is" / "Final Answer:" up to the end of
 *   that line, without `$...$` or `\(...\)` around it, "I hope it is correct." or a trailing period.
 * - `"gsm"`: a canonical number string (`"-1234.5"` for `$-1,234.50`), or `"None"` when the
 *   response says the question cannot be answered (see `extractGsmAnswer`).
 * Returns null when no answer is found. Never throws.
 */
export function extractAnswer(text: string, domain: AnswerDomain): string | null {
  if (domain === "gsm") return extractGsmAnswer(text);
  const boxed = lastBoxedContent(text);
  if (boxed !== null && boxed !== "") return boxed;
  let markerEnd = -1;
  for (const match of text.matchAll(MATH_ANSWER_MARKER)) markerEnd = match.index + match[0].length;
  if (markerEnd < 0) return null;
  const answer = cleanMarkedAnswer(text.slice(markerEnd));
  return answer === "" ? null : answer;
}

/**
 * The gold answer of a reference solution.
 * - `"math"`: the content of the last `\boxed{}` of a MATH solution (the `answer` field of MATH500
 *   rows holds the same string; prefer it when present).
 * - `"gsm"`: the number after `#### ` in a GSM8K solution, as a canonical number string (commas
 *   removed); `"None"` for GSM-Plus critical-thinking golds (`#### None` or the bare word).
 *   A bare number (GSM-Plus `answer` field) is accepted too.
 * Returns null when the solution has no gold answer.
 */
export function extractGoldAnswer(solution: string, domain: AnswerDomain): string | null {
  if (domain === "math") {
    const boxed = lastBoxedContent(solution);
    return boxed === null || boxed === "" ? null : boxed;
  }
  const marked = /####\s*(.*)$/m.exec(solution);
  const text = (marked === null ? solution : (marked[1] ?? "")).trim();
  if (/^none$/i.test(text)) return UNANSWERABLE;
  const value = parseGsmNumber(text);
  return value === null ? null : String(value);
}

function cleanMarkedAnswer(tail: string): string {
  let answer = tail.trimStart();
  if (answer.startsWith("$$")) {
    const close = answer.indexOf("$$", 2);
    if (close > 0) return answer.slice(2, close).trim();
  }
  if (answer.startsWith("$")) {
    const close = answer.indexOf("$", 1);
    if (close > 0) return answer.slice(1, close).trim();
  }
  if (answer.startsWith("\\(") || answer.startsWith("\\[")) {
    const close = answer.indexOf(answer.startsWith("\\(") ? "\\)" : "\\]", 2);
    if (close > 0) return answer.slice(2, close).trim();
  }
  answer = (answer.split("\n")[0] ?? "").replace(/I hope it is correct\.?/i, "").trim();
  return answer
    .replace(/^\$|\$$/g, "")
    .replace(/\.$/, "")
    .trim();
}
