import { describe, expect, it } from "vitest";
import { isWrappedInBrackets, lastBoxedContent, readBraceGroup, splitTopLevel } from "./latex-scan.js";

describe("latex scanners", () => {
  it("reads nested brace groups and skips escaped braces", () => {
    expect(readBraceGroup("{a{b}c}d", 0)).toEqual({ content: "a{b}c", end: 7 });
    expect(readBraceGroup("{\\{x\\}}", 0)?.content).toBe("\\{x\\}");
    expect(readBraceGroup("{open", 0)).toBeNull();
  });
  it("finds the last boxed answer", () => {
    expect(lastBoxedContent("\\boxed{1} and \\boxed{\\frac{a}{b}}")).toBe("\\frac{a}{b}");
    expect(lastBoxedContent("$\\boxed 42$")).toBe("42");
    expect(lastBoxedContent("\\fbox{x}")).toBe("x");
    expect(lastBoxedContent("\\boxedx")).toBeNull();
    expect(lastBoxedContent("nothing")).toBeNull();
  });
  it("splits at top-level separators only", () => {
    expect(splitTopLevel("(1,2],\\frac{a,b}{c},\\{3,4\\}", ",")).toEqual([
      "(1,2]",
      "\\frac{a,b}{c}",
      "\\{3,4\\}",
    ]);
    expect(splitTopLevel("(1,2)\\cup(3,4)", "\\cup")).toEqual(["(1,2)", "(3,4)"]);
    expect(splitTopLevel("a&b\\\\c&d", "\\\\")).toEqual(["a&b", "c&d"]);
  });
  it("knows when one bracket pair wraps the whole text", () => {
    expect(isWrappedInBrackets("(1,2]")).toBe(true);
    expect(isWrappedInBrackets("(a+5)(b+2)")).toBe(false);
    expect(isWrappedInBrackets("5")).toBe(false);
  });
  it("stays linear and stack-safe on deep nesting", () => {
    const deep = `\\boxed{${"{".repeat(50_000)}x${"}".repeat(50_000)}}`;
    expect(lastBoxedContent(deep)?.length).toBe(100_001);
  });
});
