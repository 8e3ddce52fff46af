import { ArithEnvironment, countWords } from "@pqm/data";
import { describe, expect, it } from "vitest";
import { ArithStepPolicy } from "./arith-step-policy.js";

const environment = new ArithEnvironment({ seed: 5 });
const policy = new ArithStepPolicy(environment);
const questions = environment.testQuestions(40);

describe("ArithStepPolicy", () => {
  it("writes one step in the environment's format, counting the words of 'Step k: <text>' as tokens", async () => {
    const question = questions[0]!;
    const batch = await policy.extend(question, [], { k: 6, seed: 1 });
    expect(batch.proposals).toHaveLength(6);
    expect(batch.calls).toBe(1);
    for (const proposal of batch.proposals) {
      // The environment parses it back as the first step of a solution.
      expect(() => environment.exactProcessLabels(question, [proposal.text])).not.toThrow();
      expect(proposal.tokens).toBe(countWords(`Step 1: ${proposal.text}`));
      expect(proposal.raw).toBe(proposal.terminal ? proposal.text : `${proposal.text}\n`);
    }
    expect(batch.completionTokens).toBe(batch.proposals.reduce((sum, p) => sum + p.tokens, 0));
    expect(batch.promptTokens).toBe(countWords(question.text));
  });

  it("is deterministic per seed and differs across seeds and samples", async () => {
    const question = questions[1]!;
    const a = await policy.extend(question, [], { k: 8, seed: 3 });
    const b = await policy.extend(question, [], { k: 8, seed: 3 });
    expect(b).toEqual(a);
    const texts = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      for (const p of (await policy.extend(question, [], { k: 4, seed })).proposals) texts.add(p.text);
    }
    expect(texts.size).toBeGreaterThan(1);
  });

  it("ends exactly at the last reference step, which states the answer", async () => {
    for (const question of questions.slice(0, 10)) {
      let prefix: string[] = [];
      for (let depth = 0; depth < 20; depth++) {
        const [step] = (await policy.extend(question, prefix, { k: 1, seed: depth })).proposals;
        prefix = [...prefix, step!.text];
        if (step!.terminal) {
          expect(step!.stop).toBe("end");
          expect(step!.finalAnswer).not.toBeNull();
          break;
        }
        expect(step!.finalAnswer).toBeNull();
      }
      // The environment agrees that the solution is complete: its last Q-value is exactly 0 or 1.
      const q = environment.exactQValues(question, prefix).at(-1);
      expect(q === 0 || q === 1).toBe(true);
      await expect(policy.extend(question, prefix, { k: 1 })).rejects.toThrow(/already ends/);
    }
  });

  it("samples step by step from the environment's exact policy: accuracy matches the exact V(x)", async () => {
    // 40 questions x 50 step-by-step rollouts; the mean exact V(x) is the expected accuracy.
    let correct = 0;
    let total = 0;
    let expected = 0;
    for (const question of questions) {
      expected += environment.exactValue(question);
      for (let sample = 0; sample < 50; sample++) {
        let prefix: string[] = [];
        let answer: string | null = null;
        for (;;) {
          const [step] = (await policy.extend(question, prefix, { k: 1, seed: sample * 100 + prefix.length }))
            .proposals;
          prefix = [...prefix, step!.text];
          if (step!.terminal) {
            answer = step!.finalAnswer;
            break;
          }
        }
        total += 1;
        if (answer === question.answer) correct += 1;
      }
    }
    const mean = expected / questions.length;
    const standardError = Math.sqrt((mean * (1 - mean)) / total);
    expect(Math.abs(correct / total - mean)).toBeLessThan(4 * standardError);
  });

  it("completes whole solutions like the environment's policy, with the same token count", async () => {
    const question = questions[2]!;
    const batch = await policy.complete(question, [], { k: 5, seed: 2 });
    expect(batch.rollouts).toHaveLength(5);
    for (const rollout of batch.rollouts) {
      const steps = rollout.steps.map((step) => step.text);
      const text = steps.map((step, i) => `Step ${i + 1}: ${step}`).join("\n");
      expect(rollout.steps.reduce((sum, step) => sum + step.tokens, 0)).toBe(countWords(text));
      expect(rollout.steps.at(-1)!.terminal).toBe(true);
      expect(rollout.steps.slice(0, -1).every((step) => !step.terminal && step.stop === "delimiter")).toBe(
        true,
      );
      const q = environment.exactQValues(question, steps).at(-1);
      expect(q === 1).toBe(rollout.steps.at(-1)!.finalAnswer === question.answer);
    }
  });

  it("refuses k < 1 and questions the environment does not know", async () => {
    await expect(policy.extend(questions[0]!, [], { k: 0 })).rejects.toThrow(/k must be/);
    await expect(
      policy.extend({ id: "x", text: "What is 1 + 1?", answer: "2", domain: "gsm" }, [], { k: 1 }),
    ).rejects.toThrow(/unknown question/);
  });
});
