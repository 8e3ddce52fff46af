import { describe, expect, it } from "vitest";
import { normalizeMathAnswer } from "./normalize-math-answer.js";

// [input, normalised]
const CASES: ReadonlyArray<readonly [string, string]> = [
  ["\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"],
  ["\\dfrac{33}{100}", "\\frac{33}{100}"],
  ["\\frac12", "\\frac{1}{2}"],
  ["\\frac 59", "\\frac{5}{9}"],
  ["\\frac9{19}", "\\frac{9}{19}"],
  ["\\frac{1}2", "\\frac{1}{2}"],
  ["\\frac{\\frac12}3", "\\frac{\\frac{1}{2}}{3}"],
  ["\\frac\\pi 4", "\\frac{\\pi}{4}"],
  ["11\\sqrt2", "11\\sqrt{2}"],
  ["\\sqrt[3]2", "\\sqrt[3]{2}"],
  ["10,\\!080", "10080"],
  ["11,\\! 111,\\! 111,\\! 100", "11111111100"],
  ["1, 234", "1,234"],
  ["\\$32,\\!348", "32348"],
  ["50\\%", "50"],
  ["30^\\circ", "30"],
  ["30^{\\circ}", "30"],
  ["864 \\mbox{ inches}^2", "864"],
  ["5.4 \\text{ cents}", "5.4"],
  ["\\text{(C)}", "C"],
  ["\\text{Navin}", "Navin"],
  ["\\textbf{(B)}", "B"],
  ["x \\in [-2,7]", "[-2,7]"],
  [".35625", "0.35625"],
  ["5.", "5"],
  ["$\\frac{1}{2}$", "\\frac{1}{2}"],
  ["\\boxed{7}", "7"],
  ["4210_{5}", "4210_5"],
  ["\\cot x", "\\cot x"],
  ["\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"],
  ["1 \\text{ and } 2", "1,2"],
  ["3 \u2212 \u03c0", "3-\\pi"],
];

describe("normalizeMathAnswer", () => {
  it.each(CASES)("%j -> %j", (input, expected) => {
    expect(normalizeMathAnswer(input)).toBe(expected);
  });
  it("is idempotent on the cases above", () => {
    // "1, 234" is the exception: its space is what marks it a list, and normalising drops it.
    for (const [input] of CASES.filter(([input]) => input !== "1, 234")) {
      const once = normalizeMathAnswer(input);
      expect(normalizeMathAnswer(once)).toBe(once);
    }
  });
});
