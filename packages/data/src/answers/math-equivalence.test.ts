import { describe, expect, it } from "vitest";
import { isEquivalent } from "./is-equivalent.js";

// Hand-labelled tricky MATH pairs: [prediction, gold, expected verdict, reason].
const TRICKY_MATH_PAIRS: ReadonlyArray<readonly [string, string, boolean, string]> = [
  // Intervals and tuples
  ["(1,2]", "[1,2]", false, "interval bracket types differ"],
  ["[1,2)", "[1,2]", false, "closed vs half-open interval"],
  ["(1,2)", "[1,2]", false, "open vs closed interval"],
  [
    "\\left(\\frac{3}{5},\\frac{8}{3}\\right]",
    "(\\frac35, \\frac83]",
    true,
    "\\left/\\right and unbraced fracs",
  ],
  ["(0.6, 8/3]", "\\left(\\frac{3}{5},\\frac{8}{3}\\right]", true, "endpoints equal as numbers"],
  ["(-\\infty, 0]", "(-\\infty,0]", true, "spacing only"],
  ["(-\\infty, 0)", "(-\\infty,0]", false, "closing bracket differs"],
  ["(3,\\infty)\\cup(-\\infty,2)", "(-\\infty, 2) \\cup (3, \\infty)", true, "union is unordered"],
  [
    "(-\\infty,2)\\cup[3,\\infty)",
    "(-\\infty, 2) \\cup (3, \\infty)",
    false,
    "one bracket differs in a union",
  ],
  ["(2,12)\\cup(12,102)", "(2,12) \\cup (12,102)", true, "inner commas are not thousands separators"],
  ["(2,102)", "(2,12) \\cup (12,102)", false, "union is not its hull"],
  ["[-2,7]", "x \\in [-2,7]", true, "leading 'x \\in' dropped"],
  ["(8,-2)", "(-2,8)", false, "ordered pair in other order"],
  ["(\\frac{3}{2},-13)", "\\left( \\frac{3}{2}, -13 \\right)", true, "point with \\left/\\right"],
  ["(1.5,-13)", "\\left( \\frac{3}{2}, -13 \\right)", true, "point with a decimal coordinate"],
  ["(3,\\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", true, "polar point"],
  ["(3,90^\\circ)", "\\left( 3, \\frac{\\pi}{2} \\right)", false, "degrees are not converted to radians"],
  ["(6,31,-1)", "(6, 31, -1)", true, "triple with spaces"],
  ["(6,31)", "(6,31,-1)", false, "tuple lengths differ"],
  ["(1,-16,-4,43)", "(1,-16,-4,43)", true, "identical 4-tuple"],
  ["8,-2", "(8,-2)", false, "bare list is not a tuple"],
  ["(-\\sqrt{3},\\sqrt{3})", "(-\\sqrt{3}, \\sqrt{3})", true, "irrational interval endpoints"],
  ["(-1.7320508,1.7320508)", "(-\\sqrt{3}, \\sqrt{3})", true, "decimal endpoints within 1e-4"],
  ["(-1.7,1.7)", "(-\\sqrt{3}, \\sqrt{3})", false, "decimal endpoints too rough"],
  // Unreduced fractions and number forms
  ["\\frac{2}{4}", "\\frac{1}{2}", true, "unreduced fraction"],
  ["\\frac{6}{10}", "\\frac{3}{5}", true, "unreduced fraction"],
  ["\\frac{3}{5}", "\\frac{3}{4}", false, "different fraction"],
  ["0.5", "\\frac12", true, "decimal of a fraction"],
  ["\\dfrac{17}{50}", "\\frac{17}{50}", true, "dfrac"],
  ["\\tfrac{9}{19}", "\\frac9{19}", true, "tfrac and half-braced frac"],
  ["\\frac 59", "\\frac{5}{9}", true, "space-separated unbraced frac"],
  ["5/9", "\\frac{5}{9}", true, "slash fraction"],
  ["-\\frac{3}{8}", "\\frac{-3}{8}", true, "sign inside or outside the fraction"],
  ["\\frac{3}{-8}", "-\\frac{3}{8}", true, "sign in the denominator"],
  ["0.333", "\\frac{1}{3}", false, "rounded too much for 1e-4"],
  ["0.33333", "\\frac{1}{3}", true, "rounded within 1e-4"],
  ["0.35625", ".35625", true, "leading zero"],
  ["0.0000672", ".0000672", true, "leading zero on a small decimal"],
  ["6.72\\times 10^{-5}", ".0000672", true, "scientific notation with \\times"],
  ["6.72e-5", ".0000672", true, "e-notation"],
  ["6.8\\times10^{-5}", ".0000672", false, "scientific notation, different value"],
  ["1.25", "\\frac{5}{4}", true, "decimal and fraction"],
  ["4.50", "4.5", true, "trailing zero"],
  ["13536", "13535", false, "off by one on a large integer (no tolerance for exact forms)"],
  ["1000001", "1000000", false, "integers compared exactly"],
  ["\\frac{27649}{2}", "13824", false, "rational close to an integer is not equal"],
  ["3.1416", "\\pi", true, "decimal approximation of pi within 1e-4"],
  ["3.14", "\\pi", false, "pi to two decimals is outside 1e-4"],
  ["\\frac{355}{113}", "\\pi", false, "exact forms compared exactly"],
  // Thousands separators and money
  ["10080", "10,\\!080", true, "LaTeX thousands separator"],
  ["10,080", "10080", true, "plain thousands separator"],
  ["11111111100", "11,\\! 111,\\! 111,\\! 100", true, "several separators with spaces"],
  ["32348", "\\$32,\\!348", true, "dollar sign and separator"],
  ["\\$18.90", "18.9", true, "money with a trailing zero"],
  ["18.91", "\\$18.90", false, "different cents"],
  ["\\$36", "36", true, "dollar sign"],
  ["58,500", "58500", true, "thousands comma in prediction"],
  ["1, 234", "1234", false, "comma with a space is a list"],
  // Units and degrees
  ["864", "864 \\mbox{ inches}^2", true, "\\mbox unit with a power"],
  ["864 \\text{ square inches}", "864 \\mbox{ inches}^2", true, "different unit wording, both stripped"],
  ["15", "15\\mbox{ cm}^2", true, "unit stripped"],
  ["5.4", "5.4 \\text{ cents}", true, "\\text unit"],
  ["5.4 cents", "5.4 \\text{ cents}", true, "plain unit word"],
  ["\\frac{270}{7}", "\\frac{270}7\\text{ degrees}", true, "fraction with a degree unit"],
  ["30", "30^\\circ", true, "degree sign"],
  ["30^{\\circ}", "30^\\circ", true, "braced degree sign"],
  ["30°", "30^\\circ", true, "unicode degree sign"],
  ["60^\\circ", "30^\\circ", false, "different angle"],
  ["145 degrees", "145^\\circ", true, "degrees in words"],
  ["2m", "2", false, "a trailing letter that is not a listed unit stays a variable"],
  // Plus-minus
  ["1+\\sqrt{19}, 1-\\sqrt{19}", "1 \\pm \\sqrt{19}", true, "\\pm expanded"],
  ["1-\\sqrt{19},1+\\sqrt{19}", "1 \\pm \\sqrt{19}", true, "\\pm expanded, other order"],
  ["1+\\sqrt{19}", "1 \\pm \\sqrt{19}", false, "only one of the two values"],
  ["3 \\pm 2\\sqrt{2}", "3 \\pm 2 \\sqrt{2}", true, "spacing only"],
  ["3+\\sqrt{8}, 3-\\sqrt{8}", "3 \\pm 2 \\sqrt{2}", true, "\\pm with a simplified radical"],
  ["-2, 1+\\sqrt5, 1-\\sqrt5", "\\{1\\pm\\sqrt{5},-2\\}", true, "set with \\pm against a list"],
  ["\\{1\\pm\\sqrt{5}\\}", "\\{1\\pm\\sqrt{5},-2\\}", false, "missing element"],
  // Lists and sets
  ["2, 1", "x = 1, 2", true, "list of solutions is unordered; variable dropped"],
  ["-2,1", "1,-2", true, "unordered solutions"],
  ["x=1, x=-2", "1,-2", true, "each solution written as x = value"],
  ["7, 5, 3", "3, 5, 7", true, "unordered list"],
  ["3, 5", "3, 5, 7", false, "missing element"],
  ["3, 5, 5", "3, 5, 7", false, "multiset: duplicate does not cover a missing value"],
  ["\\{3,5,7\\}", "3, 5, 7", true, "set braces against a bare list"],
  // Matrices and vectors
  [
    "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}",
    "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}",
    true,
    "identical matrix",
  ],
  [
    "\\begin{bmatrix} -1 & 0 \\\\ 0 & -1 \\end{bmatrix}",
    "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}",
    true,
    "bracket style of a matrix",
  ],
  [
    "\\begin{pmatrix} 0 & -1 \\\\ -1 & 0 \\end{pmatrix}",
    "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}",
    false,
    "entries moved",
  ],
  [
    "\\begin{pmatrix} 1/5 \\\\ -3.6 \\end{pmatrix}",
    "\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}",
    true,
    "matrix entries as numbers",
  ],
  [
    "\\begin{pmatrix} \\frac{16}{49} \\\\ \\frac{48}{49} \\\\ \\frac{24}{49} \\end{pmatrix}",
    "\\begin{pmatrix} 16/49 \\\\ 48/49 \\\\ 24/49 \\end{pmatrix}",
    true,
    "fraction styles in a vector",
  ],
  ["(-7,16,5)", "\\begin{pmatrix} -7 \\\\ 16 \\\\ 5 \\end{pmatrix}", true, "column vector as a tuple"],
  [
    "(16,-7,5)",
    "\\begin{pmatrix} -7 \\\\ 16 \\\\ 5 \\end{pmatrix}",
    false,
    "vector entries in another order",
  ],
  [
    "\\begin{pmatrix} -7 & 16 & 5 \\end{pmatrix}",
    "\\begin{pmatrix} -7 \\\\ 16 \\\\ 5 \\end{pmatrix}",
    false,
    "row vs column vector",
  ],
  // Percentages and mixed numbers
  ["50\\%", "50", true, "percent sign stripped"],
  ["50\\%", "0.5", true, "percent read as hundredths"],
  ["0.5", "50", false, "no percent sign: 0.5 is not 50"],
  ["12.5%", "12.5\\%", true, "plain and escaped percent"],
  ["2\\frac{1}{2}", "\\frac{5}{2}", true, "mixed number"],
  ["137.5", "137 \\frac{1}{2}", true, "mixed number with a space"],
  ["1\\frac{4}{5}", "1.8", true, "mixed number vs decimal"],
  ["\\frac{4}{5}", "1\\frac{4}{5}", false, "fractional part only"],
  // Text answers and choices
  ["\\text{(C)}", "C", true, "choice in \\text with parentheses"],
  ["(C)", "\\text{(C)}", true, "choice in parentheses"],
  ["(B)", "\\text{(C)}", false, "different choice"],
  ["\\text{even}", "even", true, "\\text unwrapped"],
  ["Even", "\\text{even}", true, "words compared case-insensitively"],
  ["\\text{odd}", "\\text{even}", false, "different word"],
  ["\\text{Evelyn}", "\\text{Evelyn}", true, "a name"],
  ["\\text{Navin}", "\\text{Evelyn}", false, "different name"],
  ["ellipse", "\\text{ellipse}", true, "conic name"],
  // Bases, complex numbers, radicals, pi
  ["2516_{8}", "2516_8", true, "braced base subscript"],
  ["2516", "2516_8", true, "digits without the base"],
  ["2517_8", "2516_8", false, "different digits"],
  ["4210_5", "4210_{5}", true, "base subscript"],
  ["6+9i", "9i+6", true, "complex number, reordered"],
  ["6-5i", "6 - 5i", true, "complex spacing"],
  ["6+5i", "6 - 5i", false, "conjugate"],
  ["2\\sqrt{5}", "\\sqrt{20}", true, "unsimplified radical"],
  ["\\sqrt{20}", "2 \\sqrt{5}", true, "radical forms"],
  ["11\\sqrt{2}", "11\\sqrt2", true, "unbraced sqrt"],
  ["\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", true, "rationalised denominator"],
  ["\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{3}", false, "different radical fraction"],
  ["288\\pi", "288 \\pi", true, "pi with spacing"],
  ["904.78", "288 \\pi", true, "pi expanded to a decimal"],
  ["18+2\\pi", "2\\pi+18", true, "sum reordered"],
  ["-\\frac{\\pi}{6}", "-\\frac{\\pi}{6}", true, "identical"],
  ["\\frac{-\\pi}{6}", "-\\frac{\\pi}{6}", true, "sign moved into the fraction"],
  ["\\frac{\\pi}{6}", "-\\frac{\\pi}{6}", false, "sign differs"],
  // Expressions with variables and equations
  ["2x+3", "y = 2x + 3", true, "equation against its right-hand side"],
  ["y=3+2x", "y = 2x + 3", true, "reordered right-hand side"],
  ["y=2x-3", "y = 2x + 3", false, "different line"],
  ["-10x+14y-22z-8=0", "5x - 7y + 11z + 4 = 0", true, "plane equation times -2"],
  ["5x-7y+11z=4", "5x - 7y + 11z + 4 = 0", false, "different plane"],
  ["(a+5)(b+2)", "ab+2a+5b+10", true, "factored vs expanded"],
  ["(a+5)(b+3)", "(a+5)(b+2)", false, "different factor"],
  ["6r^2-4r-24", "2(3r^2-2r-12)", true, "factor pulled out"],
  ["8n^2+4n+1", "8n^2 + 4n + 1", true, "spacing"],
  ["8n^2+4n", "8n^2 + 4n + 1", false, "constant term missing"],
  ["3r^2", "3R^2", false, "letter case is a different variable"],
  [
    "\\frac{x^9-1}{x-1}",
    "x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1",
    true,
    "closed form of a geometric sum",
  ],
  ["\\frac{11+9a}{20}", "\\frac{11}{20}+\\frac{9a}{20}", true, "fraction split"],
  ["\\cot x", "\\frac{\\cos x}{\\sin x}", true, "trigonometric identity"],
  ["\\tan x", "\\cot x", false, "different function"],
  ["p-q", "p - q", true, "spacing"],
  ["q-p", "p - q", false, "sign"],
  // LaTeX spacing and wrappers
  ["\\boxed{5}", "5", true, "boxed prediction"],
  ["$5$", "5", true, "dollar-delimited"],
  ["\\(5\\)", "5", true, "paren-delimited"],
  ["5.", "5", true, "trailing period"],
  ["\\!5\\,", "5", true, "spacing commands"],
  ["\\displaystyle\\frac{1}{2}", "\\frac12", true, "displaystyle"],
  ["", "5", false, "empty prediction"],
  ["5", "", false, "empty gold"],
];

describe("isEquivalent on hand-labelled tricky MATH pairs", () => {
  it("has at least 100 labelled pairs", () => {
    expect(TRICKY_MATH_PAIRS.length).toBeGreaterThanOrEqual(100);
  });
  it.each(TRICKY_MATH_PAIRS)("%s vs %s -> %s (%s)", (prediction, gold, expected) => {
    expect(isEquivalent(prediction, gold, "math")).toBe(expected);
  });
  it.each(TRICKY_MATH_PAIRS)("is symmetric: %s vs %s", (prediction, gold, expected) => {
    expect(isEquivalent(gold, prediction, "math")).toBe(expected);
  });
});

describe("isEquivalent options and edge cases (MATH)", () => {
  it("treats null as never equal", () => {
    expect(isEquivalent(null, "5", "math")).toBe(false);
    expect(isEquivalent("5", null, "math")).toBe(false);
    expect(isEquivalent(null, null, "math")).toBe(false);
  });
  it("honours relativeTolerance for written decimals", () => {
    expect(isEquivalent("0.333", "\\frac13", "math", { relativeTolerance: 1e-2 })).toBe(true);
    expect(isEquivalent("0.333", "\\frac13", "math")).toBe(false);
  });
  it("skips evaluation when symbolic is off", () => {
    expect(isEquivalent("2\\sqrt{5}", "\\sqrt{20}", "math", { symbolic: false })).toBe(false);
    expect(isEquivalent("0.5", "\\frac{1}{2}", "math", { symbolic: false })).toBe(true);
  });
  it("refuses symbolic work above maxSymbolicLength", () => {
    expect(isEquivalent("(a+5)(b+2)", "ab+2a+5b+10", "math", { maxSymbolicLength: 5 })).toBe(false);
  });
  it("does not call huge values equal", () => {
    expect(isEquivalent("10^{10^{10}}", "10^{10^{10}}+1", "math")).toBe(false);
    expect(isEquivalent("10^{10^{10}}", "10^{10^{11}}", "math")).toBe(false);
    expect(isEquivalent("9^{9^{9}}", "10^{400}", "math")).toBe(false);
  });
});
