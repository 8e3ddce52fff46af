import { describe, expect, it } from "vitest";
import { equationsEquivalent, symbolicEqual } from "./symbolic-equal.js";

describe("symbolicEqual", () => {
  it("compares constants by value, complex ones included", () => {
    expect(symbolicEqual("\\sqrt{8}", "2\\sqrt{2}", 1e-9)).toBe(true);
    expect(symbolicEqual("(1+i)^2", "2i", 1e-9)).toBe(true);
    expect(symbolicEqual("\\sqrt{8}", "3", 1e-9)).toBe(false);
  });
  it("compares expressions with variables at seeded points", () => {
    expect(symbolicEqual("(x+1)^2", "x^2+2x+1", 1e-9)).toBe(true);
    expect(symbolicEqual("(x+1)^2", "x^2+1", 1e-9)).toBe(false);
    expect(symbolicEqual("x", "y", 1e-9)).toBe(false);
  });
  it("gives up on untranslatable or oversized input", () => {
    expect(symbolicEqual("\\text{a}", "a", 1e-9)).toBe(false);
    expect(symbolicEqual("x+x", "2x", 1e-9, { maxLatexLength: 2, maxNodes: 250 })).toBe(false);
    expect(symbolicEqual("x+x+x", "3x", 1e-9, { maxLatexLength: 400, maxNodes: 3 })).toBe(false);
  });
  it("never calls overflowing values equal", () => {
    expect(symbolicEqual("2^{2^{20}}", "2^{2^{20}}", 1e-9)).toBe(false);
  });
});

describe("equationsEquivalent", () => {
  it("accepts proportional equations and swapped sides", () => {
    expect(equationsEquivalent(["2x+2y", "4"], ["x+y", "2"])).toBe(true);
    expect(equationsEquivalent(["y", "2x+3"], ["2x+3", "y"])).toBe(true);
    expect(equationsEquivalent(["y", "2x+3"], ["y", "2x-3"])).toBe(false);
  });
});
