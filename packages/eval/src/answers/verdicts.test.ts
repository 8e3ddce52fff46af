import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnswerChecker } from "@pqm/core/reference";
import { describe, expect, it } from "vitest";
import { loadDataAnswerChecker } from "./answer-checker.js";
import { checkCandidateAnswers, normalizeAnswerString } from "./verdicts.js";

/** A small real checker: the text after "answer:"; numbers equal within 1e-9, else exact strings. */
function makeChecker(): AnswerChecker & { calls: number } {
  const checker = {
    name: "toy",
    calls: 0,
    extractAnswer: (text: string) => /answer:\s*(\S+)/.exec(text)?.[1] ?? null,
    isEquivalent: (prediction: string | null, gold: string | null) => {
      checker.calls++;
      if (prediction === null || gold === null) return false;
      const a = Number(prediction);
      const b = Number(gold);
      return Number.isFinite(a) && Number.isFinite(b) ? Math.abs(a - b) < 1e-9 : prediction === gold;
    },
  };
  return checker;
}

describe("checkCandidateAnswers", () => {
  const golds = [
    { answer: "2", domain: "math" as const },
    { answer: null, domain: "gsm" as const },
  ];
  const responses = [["answer: 2.0", "answer: 3", "no answer here", "answer: 2"], ["answer: 5"]];

  it("extracts, checks and groups by checker equivalence", async () => {
    const table = await checkCandidateAnswers(golds, responses, makeChecker());
    expect(table.questions[0]).toEqual([
      { answer: "2.0", correct: true, group: 0 },
      { answer: "3", correct: false, group: 1 },
      { answer: null, correct: false, group: null },
      // "2" is a different string from "2.0" but the checker finds them equal: same group.
      { answer: "2", correct: true, group: 0 },
    ]);
    expect(table.noGoldAnswer).toEqual([1]);
    expect(table.questions[1]![0]!.correct).toBe(false);
  });

  it("groups by normalized string when asked", async () => {
    const table = await checkCandidateAnswers(golds, responses, makeChecker(), { grouping: "string" });
    expect(table.questions[0]!.map((verdict) => verdict.group)).toEqual([0, 1, null, 2]);
    expect(normalizeAnswerString(" \\left( 1, 2 \\right). ")).toBe("(1,2)");
  });

  it("checks each candidate once and reuses the cache file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pqm-eval-verdicts-"));
    const cacheFile = join(dir, "verdicts.json");
    const checker = makeChecker();
    const first = await checkCandidateAnswers(golds, responses, checker, { cacheFile, cacheKey: "k1" });
    const calls = checker.calls;
    expect(calls).toBeGreaterThan(0);
    const second = await checkCandidateAnswers(golds, responses, checker, { cacheFile, cacheKey: "k1" });
    expect(second).toEqual(first);
    expect(checker.calls).toBe(calls);
    // Another key (another candidate file) recomputes.
    await checkCandidateAnswers(golds, responses, checker, { cacheFile, cacheKey: "k2" });
    expect(checker.calls).toBeGreaterThan(calls);
  });

  it("refuses misaligned questions and candidates", async () => {
    await expect(checkCandidateAnswers(golds, [["answer: 1"]], makeChecker())).rejects.toThrow(
      /2 questions but candidates for 1/,
    );
  });

  it("works with @pqm/data's checker", async () => {
    const checker = await loadDataAnswerChecker();
    const table = await checkCandidateAnswers(
      [
        { answer: "\\frac{1}{2}", domain: "math" },
        { answer: "1200", domain: "gsm" },
      ],
      [
        ["So it is $\\boxed{0.5}$.", "The answer is $\\boxed{\\dfrac12}$", "$\\boxed{2}$"],
        ["The total is 1,200 dollars."],
      ],
      checker,
    );
    expect(table.questions[0]!.map((verdict) => verdict.correct)).toEqual([true, true, false]);
    expect(table.questions[0]![0]!.group).toBe(table.questions[0]![1]!.group);
    expect(table.questions[1]![0]!.correct).toBe(true);
  });
});
