import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { readCandidateFile, sha256Hex, sha256OfFile } from "./candidate-file.js";
import { writeCandidateFixture } from "./candidate-file.test-helper.js";

describe("candidate files", () => {
  it("reads responses through @pqm/data, keeps given steps and annotations, hashes the bytes", async () => {
    const file = await writeCandidateFixture([
      {
        question: "q",
        responses: [
          { text: "Step 1: a Step 2: b", model_name: "m" },
          { text: "whatever", steps: ["x", "y"], process_labels: [1, 0], q_values: [0.7, 0.1] },
        ],
      },
    ]);
    const bytes = await readFile(file.file);
    expect(file.sha256).toBe(sha256Hex(bytes));
    expect(await sha256OfFile(file.file)).toBe(file.sha256);
    expect(file.questions[0]!.responses[0]).toEqual({
      text: "Step 1: a Step 2: b",
      modelName: "m",
      steps: ["a", "b"],
    });
    expect(file.questions[0]!.responses[1]!.steps).toEqual(["x", "y"]);
    expect(file.questions[0]!.responses[1]!.annotations?.processLabels).toEqual([1, 0]);
    expect(file.questions[0]!.responses[1]!.annotations?.qValues).toEqual([0.7, 0.1]);
    expect(file.alignment).toBeNull();
  });

  it("checks the alignment with a test set", async () => {
    const file = await writeCandidateFixture([{ question: "What is 1 + 1?", responses: [{ text: "2" }] }]);
    const testSet = (text: string) => ({
      file: "test.jsonl",
      questions: [{ id: "0", text, answer: "2", domain: "gsm" as const }],
    });
    const aligned = await readCandidateFile(file.file, { testSet: testSet("What is  1 + 1?") });
    expect(aligned.alignment?.checked).toBe(1);
    await expect(readCandidateFile(file.file, { testSet: testSet("What is 2 + 2?") })).rejects.toThrow(
      /cands\.json:1: field 'question'.*test\.jsonl/,
    );
  });

  it("names file, record and field on bad input", async () => {
    await expect(writeCandidateFixture({})).rejects.toThrow(/cands\.json/);
    await expect(writeCandidateFixture([{ question: "q", responses: [{ text: 3 }] }])).rejects.toThrow(
      /cands\.json:1: field 'responses\.0\.text'/,
    );
    await expect(
      writeCandidateFixture([
        { question: "q", responses: [] },
        { question: 1, responses: [] },
      ]),
    ).rejects.toThrow(/cands\.json:2: field 'question'/);
  });
});
