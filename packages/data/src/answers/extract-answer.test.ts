import { describe, expect, it } from "vitest";
import { extractAnswer, extractGoldAnswer } from "./extract-answer.js";

// [text, expected MATH answer, reason]
const MATH_EXTRACTIONS: ReadonlyArray<readonly [string, string | null, string]> = [
  ["so $x = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", "boxed"],
  [
    "first \\boxed{1} then \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}",
    "\\left( 3, \\frac{\\pi}{2} \\right)",
    "last boxed, nested braces",
  ],
  ["The answer is $\\boxed 5$.", "5", "unbraced \\boxed"],
  ["so \\fbox{12} is it", "12", "\\fbox"],
  ["\\boxed{\\{1,2\\}}", "\\{1,2\\}", "escaped braces inside"],
  ["The answer is: \\frac{3}{4}", "\\frac{3}{4}", "MetaMath 'The answer is:'"],
  ["The answer is $\\frac{3}{4}$.", "\\frac{3}{4}", "dollar-delimited after the marker"],
  ["The final answer is $12\\sqrt{2}$. I hope it is correct.", "12\\sqrt{2}", "'the final answer is $X$'"],
  ["Final Answer: 7.\nMore text", "7", "'Final Answer:' up to the end of the line"],
  ["the answer is 5 and then the answer is 6.", "6", "last marker wins"],
  ["no answer here", null, "nothing to extract"],
  ["\\boxed{unclosed", null, "unclosed boxed and no marker"],
];

describe("extractAnswer (math)", () => {
  it.each(MATH_EXTRACTIONS)("%j -> %j (%s)", (text, expected) => {
    expect(extractAnswer(text, "math")).toBe(expected);
  });
});

describe("extractGoldAnswer", () => {
  it("reads the last boxed of a MATH solution", () => {
    expect(extractGoldAnswer("We get $\\boxed{2}$, then $\\boxed{\\frac{\\sqrt{3}}{3}}$.", "math")).toBe(
      "\\frac{\\sqrt{3}}{3}",
    );
    expect(extractGoldAnswer("no box", "math")).toBeNull();
  });
  it("reads GSM8K #### golds, bare numbers and None", () => {
    expect(extractGoldAnswer("9 * 2 = <<9*2=18>>18\n#### 1,018", "gsm")).toBe("1018");
    expect(extractGoldAnswer("#### -3", "gsm")).toBe("-3");
    expect(extractGoldAnswer("42", "gsm")).toBe("42");
    expect(extractGoldAnswer("We don't know.\n#### None", "gsm")).toBe("None");
    expect(extractGoldAnswer("None", "gsm")).toBe("None");
    expect(extractGoldAnswer("#### forty", "gsm")).toBeNull();
  });
});
