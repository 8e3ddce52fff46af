import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCandidates, readMathShepherd } from "../formats/index.js";
import { ArithEnvironment } from "./arith-environment.js";

describe("ArithEnvironment", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pqm-arith-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("produces the same questions, samples and candidates for the same seed", () => {
    const a = new ArithEnvironment({ seed: 4 });
    const b = new ArithEnvironment({ seed: 4 });
    expect(a.trainQuestions(5)).toEqual(b.trainQuestions(5));
    expect(a.candidateFile({ questions: 3, n: 4 })).toEqual(b.candidateFile({ questions: 3, n: 4 }));
    expect(a.exactTrainingCorpus({ questions: 3, samplesPerQuestion: 2 })).toEqual(
      b.exactTrainingCorpus({ questions: 3, samplesPerQuestion: 2 }),
    );
    const c = new ArithEnvironment({ seed: 5 });
    expect(c.trainQuestions(5)).not.toEqual(a.trainQuestions(5));
    expect(a.testQuestions(3).map((q) => q.text)).not.toEqual(a.trainQuestions(3).map((q) => q.text));
  });

  it("keeps question plus solution brief (about 40-120 words)", () => {
    const environment = new ArithEnvironment({ seed: 2 });
    for (const question of environment.trainQuestions(100)) {
      for (const solution of environment.sampleSolutions(question, 2)) {
        const words = `${question.text} ${solution.text}`.split(/\s+/).length;
        expect(words).toBeGreaterThanOrEqual(30);
        expect(words).toBeLessThanOrEqual(130);
      }
    }
  });

  it("continues its own prefixes and knows questions by meta, id or text", async () => {
    const environment = new ArithEnvironment({ seed: 3 });
    const question = environment.question("train", 0);
    const [solution] = environment.sampleSolutions(question, 1, 1);
    const prefix = solution?.steps.slice(0, 2) ?? [];
    const [completion] = await environment.policy.complete(question, prefix, { n: 1, seed: 2 });
    expect(completion?.text.startsWith("Step 3:")).toBe(true);
    expect(environment.exactProcessLabels(question, [...prefix, ...(completion?.steps ?? [])]).length).toBe(
      prefix.length + (completion?.steps.length ?? 0),
    );
    const bare = { id: "x", text: question.text, answer: question.answer, domain: question.domain };
    expect(environment.problemFor(bare).answer).toBe(Number(question.answer));
    expect(() => environment.problemFor({ ...bare, text: "What is 2 + 2?" })).toThrow(/unknown question/);
  });

  it("policy accuracy matches the mean exact V(x)", () => {
    const environment = new ArithEnvironment({ seed: 8 });
    const questions = environment.trainQuestions(60);
    let correct = 0;
    let expected = 0;
    const samples = 50;
    for (const question of questions) {
      expected += environment.exactValue(question) * samples;
      for (const solution of environment.sampleSolutions(question, samples)) {
        if (solution.finalAnswer === question.answer) correct++;
        expect(solution.qValues[solution.qValues.length - 1]).toBe(
          solution.finalAnswer === question.answer ? 1 : 0,
        );
      }
    }
    const total = questions.length * samples;
    // Sum of independent Bernoullis: the variance is at most total / 4.
    expect(Math.abs(correct - expected)).toBeLessThan(4.5 * Math.sqrt(total / 4));
  });

  it("writes a Math-Shepherd corpus and a candidate file that the readers take back", async () => {
    const environment = new ArithEnvironment({ seed: 6 });
    const corpusPath = join(dir, "corpus.jsonl");
    const rows = await environment.writeExactTrainingCorpus(corpusPath, {
      questions: 4,
      samplesPerQuestion: 3,
    });
    expect(rows).toBe(12);
    const expected = environment.exactTrainingCorpus({ questions: 4, samplesPerQuestion: 3 });
    const read = [];
    for await (const trajectory of readMathShepherd(corpusPath)) read.push(trajectory);
    expect(read.map((t) => t.steps)).toEqual(expected.map((t) => t.steps));
    expect(read.map((t) => t.hardLabels)).toEqual(expected.map((t) => t.hardLabels));
    expect(read.map((t) => t.softLabels)).toEqual(expected.map((t) => t.softLabels));

    const candidatesPath = join(dir, "candidates.json");
    await environment.writeCandidateFile(candidatesPath, { questions: 2, n: 5 });
    const sets = [];
    for await (const set of readCandidates(candidatesPath)) sets.push(set);
    const file = environment.candidateFile({ questions: 2, n: 5 });
    expect(sets.map((set) => set.question)).toEqual(file.map((entry) => entry.question));
    expect(sets[1]?.responses[3]?.annotations?.qValues).toEqual(file[1]?.responses[3]?.q_values);
    expect(sets[1]?.responses[3]?.steps).toEqual(file[1]?.responses[3]?.steps);
  });
});
