import { describe, expect, it } from "vitest";
import { hasWrittenDecimal, numbersClose, parseNumberLiteral } from "./parse-number.js";

describe("parseNumberLiteral", () => {
  it.each([
    ["42", 42],
    ["-0.5", -0.5],
    ["0.", 0],
    ["1.5e3", 1500],
    ["6.72\\times10^{-5}", 0.0000672],
    ["10^{6}", 1e6],
    ["-\\frac{3}{8}", -0.375],
    ["\\frac{-3}{8}", -0.375],
    ["7/4", 1.75],
    ["2\\frac{1}{2}", 2.5],
    ["-2\\frac{1}{2}", -2.5],
  ] as const)("%s -> %d", (text, expected) => {
    expect(parseNumberLiteral(text)).toBe(expected);
  });
  it.each(["x", "\\sqrt{2}", "1,234", "10^{400}", "1e400", "2\\frac{\\pi}{2}"])(
    "%s is not a plain number",
    (text) => {
      expect(parseNumberLiteral(text)).toBeNull();
    },
  );
});

describe("number comparison helpers", () => {
  it("spots written decimals", () => {
    expect(hasWrittenDecimal("0.5")).toBe(true);
    expect(hasWrittenDecimal("(.5,1)")).toBe(true);
    expect(hasWrittenDecimal("\\frac{1}{2}")).toBe(false);
  });
  it("compares relatively, never calling non-finite values close", () => {
    expect(numbersClose(1, 1.00005, 1e-4)).toBe(true);
    expect(numbersClose(1, 1.0002, 1e-4)).toBe(false);
    expect(numbersClose(0, 1e-13, 1e-9)).toBe(true);
    expect(numbersClose(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 1e-4)).toBe(false);
  });
});
