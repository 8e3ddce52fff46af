import { describe, expect, it } from "vitest";
import { parseCandidateFile, sha256Hex, splitCandidateSteps } from "./candidate-file.js";

describe("candidate files", () => {
  it("splits steps on Step k: markers, else blank lines", () => {
    expect(splitCandidateSteps("Step 1: a\nStep 2: b\n\nStep 3:c")).toEqual(["a", "b", "c"]);
    expect(splitCandidateSteps("first\n\nsecond")).toEqual(["first", "second"]);
    expect(splitCandidateSteps("one line")).toEqual(["one line"]);
  });

  it("reads responses, keeps given steps and annotations, hashes the bytes", () => {
    const bytes = new TextEncoder().encode(
      JSON.stringify([
        {
          question: "q",
          responses: [
            { text: "Step 1: a Step 2: b", model_name: "m" },
            { text: "whatever", steps: ["x", "y"], process_labels: [1, 0], q_values: [0.7, 0.1] },
          ],
        },
      ]),
    );
    const file = parseCandidateFile(bytes, "c.json");
    expect(file.sha256).toBe(sha256Hex(bytes));
    expect(file.questions[0]!.responses[0]).toEqual({
      text: "Step 1: a Step 2: b",
      modelName: "m",
      steps: ["a", "b"],
    });
    expect(file.questions[0]!.responses[1]!.qValues).toEqual([0.7, 0.1]);
  });

  it("names file, record and field on bad input", () => {
    const bad = (value: unknown) => () =>
      parseCandidateFile(new TextEncoder().encode(JSON.stringify(value)), "c.json");
    expect(bad({})).toThrow(/c\.json: expected a JSON list/);
    expect(bad([{ question: "q", responses: [{ text: 3 }] }])).toThrow(
      /c\.json:1: field 'responses\.0\.text'/,
    );
    expect(
      bad([
        { question: "q", responses: [] },
        { question: 1, responses: [] },
      ]),
    ).toThrow(/c\.json:2: field 'question'/);
    expect(bad([{ question: "q", responses: [{ text: "a", steps: ["x"], q_values: [1, 2] }] }])).toThrow(
      /responses\.0\.q_values'.*2 entries for 1 steps/,
    );
  });
});
