import { evaluate } from "mathjs";
import { describe, expect, it } from "vitest";
import { LatexTranslationError, latexToMathjs } from "./latex-to-mathjs.js";

// [latex, value with v_x = 2 (and v_y = 3)]
const VALUES: ReadonlyArray<readonly [string, number]> = [
  ["\\frac{1}{2}", 0.5],
  ["2\\sqrt{9}", 6],
  ["\\sqrt[3]{8}", 2],
  ["3x^2", 12],
  ["x^10", 1024],
  ["2^{-1}", 0.5],
  ["xy", 6],
  ["2(x+1)", 6],
  ["(x+1)(y-1)", 6],
  ["x\\cdot y", 6],
  ["6\\div x", 3],
  ["\\frac{x}{y}\\cdot 3", 2],
  ["|1-x|", 1],
  ["\\lfloor 2.5 \\rfloor", 2],
  ["\\binom{5}{2}", 10],
  ["3!", 6],
  ["\\ln e", 1],
  ["\\log 100", 2],
  ["\\sin^2 x+\\cos^2 x", 1],
];

describe("latexToMathjs", () => {
  it.each(VALUES)("%s evaluates to %d", (latex, expected) => {
    const { source } = latexToMathjs(latex);
    const scope = new Map<string, unknown>([
      ["v_x", 2],
      ["v_y", 3],
      ["binomialGuarded", (n: number, k: number) => (k === 2 ? (n * (n - 1)) / 2 : Number.NaN)],
    ]);
    expect(evaluate(source, scope)).toBeCloseTo(expected, 10);
  });
  it("names variables with a v_ prefix and keeps e, i and pi as constants", () => {
    expect(latexToMathjs("a_1 + b + e + i + \\pi + \\theta").variables).toEqual(["v_a_1", "v_b", "v_theta"]);
  });
  it.each(["1,2", "x=1", "\\text{cm}", "\\{1\\}", "\\foo{1}", "\\frac{1}", "(1+2", "", "x^"])(
    "rejects %j",
    (latex) => {
      expect(() => latexToMathjs(latex)).toThrow(LatexTranslationError);
    },
  );
  it("rejects nesting deeper than the limit without overflowing the stack", () => {
    expect(() => latexToMathjs(`${"(".repeat(5000)}1${")".repeat(5000)}`)).toThrow(LatexTranslationError);
  });
});
