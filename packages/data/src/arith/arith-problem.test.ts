import { describe, expect, it } from "vitest";
import type { ArithProblem } from "./arith-problem.js";
import { applyOperator, generateArithProblem } from "./arith-problem.js";

function checkReference(problem: ArithProblem): void {
  const values: number[] = [];
  for (const step of problem.steps) {
    const operand = (ref: ArithProblem["steps"][number]["left"]) =>
      ref.kind === "given" ? problem.givens[ref.index] : values[ref.index];
    const left = operand(step.left) as number;
    const right = operand(step.right) as number;
    if (step.operator === "/") expect(left % right).toBe(0);
    expect(applyOperator(step.operator, left, right)).toBe(step.value);
    values.push(step.value);
  }
}

describe("generateArithProblem", () => {
  it("is deterministic for a seed, split and index", () => {
    const a = generateArithProblem(5, "train", 12);
    const b = generateArithProblem(5, "train", 12);
    expect(a).toEqual(b);
    expect(generateArithProblem(6, "train", 12).text).not.toBe(a.text);
    expect(generateArithProblem(5, "test", 12).text).not.toBe(a.text);
  });

  it("respects the knobs and keeps the correct path exact and positive", () => {
    const stepCounts = new Set<number>();
    for (let index = 0; index < 300; index++) {
      const problem = generateArithProblem(1, "train", index, {
        minSteps: 2,
        maxSteps: 5,
        maxNumber: 30,
        maxResult: 2000,
      });
      stepCounts.add(problem.steps.length);
      expect(problem.steps.length).toBeGreaterThanOrEqual(2);
      expect(problem.steps.length).toBeLessThanOrEqual(5);
      checkReference(problem);
      for (const step of problem.steps) {
        expect(step.value).toBeGreaterThan(0);
        expect(step.value).toBeLessThanOrEqual(2000);
      }
      expect(problem.answer).toBe(problem.steps[problem.steps.length - 1]?.value);
      // Leads are unique, so a written step names the step it computes.
      expect(new Set(problem.steps.map((step) => step.lead)).size).toBe(problem.steps.length);
      for (const given of problem.givens) expect(problem.text).toContain(String(given));
    }
    expect([...stepCounts].sort()).toEqual([2, 3, 4, 5]);
  });

  it("rejects bad knobs with the knob's name", () => {
    expect(() => generateArithProblem(0, "train", 0, { minSteps: 4, maxSteps: 3 })).toThrow(/maxSteps/);
    expect(() => generateArithProblem(0, "train", 0, { maxNumber: 3 })).toThrow(/maxNumber/);
  });
});
