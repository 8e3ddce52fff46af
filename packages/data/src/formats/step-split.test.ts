import { describe, expect, it } from "vitest";
import { splitSolutionSteps } from "./step-split.js";

describe("splitSolutionSteps", () => {
  const numbered = "We start.\nStep 1: add 2 and 3.\nStep 2: get 5.\n\nStep 3: The answer is 5.";

  it("splits numbered solutions on 'Step N:', dropping or keeping the preamble", () => {
    expect(splitSolutionSteps(numbered)).toEqual(["add 2 and 3.", "get 5.", "The answer is 5."]);
    expect(splitSolutionSteps(numbered, { preamble: "keep" })).toEqual([
      "We start.",
      "add 2 and 3.",
      "get 5.",
      "The answer is 5.",
    ]);
  });

  it("splits unnumbered solutions on blank lines in auto mode", () => {
    expect(splitSolutionSteps("First line\nstill first.\n\n  \nSecond.\r\n\r\nThird.")).toEqual([
      "First line\nstill first.",
      "Second.",
      "Third.",
    ]);
    expect(splitSolutionSteps(numbered, { mode: "paragraphs" })).toHaveLength(2);
    expect(splitSolutionSteps("one paragraph", { mode: "numbered" })).toEqual([]);
    expect(splitSolutionSteps("   ")).toEqual([]);
  });
});
