import { SeededRandom } from "@pqm/core/reference";
import { describe, expect, it } from "vitest";
import { ArithEnvironment } from "./arith-environment.js";
import type { ArithWrittenStep } from "./arith-policy-model.js";
import {
  ArithPolicyModel,
  arithProcessLabels,
  arithQValues,
  arithStateAfter,
  initialArithState,
  parseArithSteps,
  referenceArithSteps,
  renderArithStep,
} from "./arith-policy-model.js";
import type { ArithProblem } from "./arith-problem.js";
import { generateArithProblem } from "./arith-problem.js";

function problemWithSteps(count: number): ArithProblem {
  for (let index = 0; ; index++) {
    const problem = generateArithProblem(3, "train", index);
    if (problem.steps.length === count) return problem;
  }
}

const render = (problem: ArithProblem, steps: ArithWrittenStep[]) =>
  steps.map((step) => renderArithStep(problem, step));

describe("arith policy model", () => {
  const model = new ArithPolicyModel();

  it("gives outcome probabilities that sum to 1 on and off the correct path", () => {
    const problem = problemWithSteps(5);
    const rng = new SeededRandom(9);
    for (let trial = 0; trial < 200; trial++) {
      let state = initialArithState();
      while (state.next < problem.steps.length) {
        const outcomes = model.outcomes(problem, state);
        const total = outcomes.reduce((sum, outcome) => sum + outcome.probability, 0);
        expect(total).toBeCloseTo(1, 12);
        const written = model.sample(problem, state, rng);
        expect(written.length).toBeGreaterThan(0);
        state = { next: problem.steps.length, values: [] };
      }
    }
  });

  it("labels hand-built prefixes by the definition", () => {
    const problem = problemWithSteps(5);
    const reference = referenceArithSteps(problem);
    const [s0, s1, s2, s3, s4] = reference as [
      ArithWrittenStep,
      ArithWrittenStep,
      ArithWrittenStep,
      ArithWrittenStep,
      ArithWrittenStep,
    ];
    expect(arithProcessLabels(problem, render(problem, reference))).toEqual([1, 1, 1, 1, 1]);
    expect(arithProcessLabels(problem, [])).toEqual([]);

    // An arithmetic slip at step 2, then a step computed from the wrong value: 0 from step 2 on.
    const slip = { ...s1, result: s1.result + 1 };
    expect(arithProcessLabels(problem, render(problem, [s0, slip]))).toEqual([1, 0]);
    // A later step that recovers (the reference step itself) is still labelled 0.
    expect(arithProcessLabels(problem, render(problem, [s0, slip, s2]))).toEqual([1, 0, 0]);

    // A wrong operand: right arithmetic on a wrong number.
    const wrongOperand = {
      ...s0,
      left: s0.left + 3,
      result: s0.result + (s0.result === s0.left + s0.right ? 3 : 0),
    };
    expect(arithProcessLabels(problem, render(problem, [wrongOperand]))[0]).toBe(0);

    // A skipped step: the reference step 3 written second is wrong even with right numbers.
    expect(arithProcessLabels(problem, render(problem, [s0, s2]))).toEqual([1, 0]);

    // A wrong final answer.
    const wrongAnswer = { ...s4, result: s4.result + 2, answer: s4.result + 2 };
    expect(arithProcessLabels(problem, render(problem, [s0, s1, s2, s3, wrongAnswer]))).toEqual([
      1, 1, 1, 1, 0,
    ]);

    // Q-values at the ends of the solution are exact 1 and 0.
    expect(arithQValues(model, problem, render(problem, reference))[4]).toBe(1);
    expect(arithQValues(model, problem, render(problem, [s0, s1, s2, s3, wrongAnswer]))[4]).toBe(0);
  });

  it("rejects steps not in the environment's format, naming the step", () => {
    const problem = problemWithSteps(4);
    expect(() => parseArithSteps(problem, ["I think the answer is 12."])).toThrow(/step 1/);
    const reference = render(problem, referenceArithSteps(problem));
    expect(() => parseArithSteps(problem, [reference[0] as string, reference[0] as string])).toThrow(
      /step 2/,
    );
  });

  it("matches a large Monte-Carlo estimate of Q within sampling error", () => {
    const problem = problemWithSteps(6);
    const reference = referenceArithSteps(problem);
    const s0 = reference[0] as ArithWrittenStep;
    const prefixes: ArithWrittenStep[][] = [
      [],
      [s0],
      [{ ...s0, result: s0.result + 1 }],
      reference.slice(0, 4),
    ];
    const samples = 20_000;
    const rng = new SeededRandom(2024);
    for (const prefix of prefixes) {
      const state = arithStateAfter(problem, prefix);
      const exact = model.exactQ(problem, state);
      let hits = 0;
      for (let i = 0; i < samples; i++) {
        const written = model.sample(problem, state, rng);
        if (written[written.length - 1]?.answer === problem.answer) hits++;
      }
      const estimate = hits / samples;
      // Binomial standard error; 4.5 of them makes a false alarm about 1 in 150,000 per check.
      const bound = 4.5 * Math.sqrt((exact * (1 - exact)) / samples) + 1e-9;
      expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(bound);
    }
  });

  it("matches Monte-Carlo through the text interface (render, parse back, continue)", async () => {
    const environment = new ArithEnvironment({ seed: 11 });
    const question = environment.question("train", 4);
    const [solution] = environment.sampleSolutions(question, 1, 3);
    const prefix = solution?.steps.slice(0, 1) ?? [];
    const exact = environment.exactQValue(question, prefix);
    const completions = await environment.policy.complete(question, prefix, { n: 4000, seed: 5 });
    const estimate = completions.filter((c) => c.finalAnswer === question.answer).length / completions.length;
    expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(
      4.5 * Math.sqrt((exact * (1 - exact)) / 4000) + 1e-9,
    );
  });

  it("lets recovery and coincidence make label and Q disagree, and turns them off at rate 0", () => {
    const problem = problemWithSteps(5);
    const s0 = referenceArithSteps(problem)[0] as ArithWrittenStep;
    const wrong = [{ ...s0, result: s0.result + 1 }];
    const withRecovery = model.exactQ(problem, arithStateAfter(problem, wrong));
    expect(withRecovery).toBeGreaterThan(0);
    const strict = new ArithPolicyModel({ recoveryRate: 0, coincidenceRate: 0 });
    const q = strict.exactQ(problem, arithStateAfter(problem, wrong));
    // Without recovery and coincidence only accidental equalities (a later slip undoing an
    // earlier one, a rounded-down division) can still reach the answer: a few percent on this problem.
    expect(q).toBeLessThan(withRecovery);
    expect(q).toBeLessThan(0.1);
  });
});
