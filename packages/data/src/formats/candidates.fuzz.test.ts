import type { Question } from "@pqm/core/reference";
import type { FuzzJson } from "@pqm/testing/fuzz";
import { FuzzTally, fuzzParameters, fuzzRuns, mutatedFile, renderMutatedFile } from "@pqm/testing/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CandidateSet } from "./candidates.js";
import { loadCandidates } from "./candidates.js";
import { expectDataError, fuzzFolder, fuzzProbability, fuzzText } from "./fuzz-checks.test-helper.js";

// Valid best-of-n candidate files (the release layout, some candidates with the built-in
// environment's steps / process_labels / q_values), read alone or aligned with a test set, then
// mutated: responses retyped, annotations with strings or huge numbers, sets added or dropped (a
// file longer or shorter than its test set), questions edited, bytes flipped, the list cut short.

const response = fc.record({
  steps: fc.array(fc.record({ text: fuzzText, label: fc.constantFrom(0, 1), q: fuzzProbability }), {
    minLength: 1,
    maxLength: 4,
  }),
  model: fc.constantFrom("llama3-70b", "qwen2.5-7b", "arith"),
  annotated: fc.boolean(),
  numbered: fc.boolean(),
});
const set = fc.record({ question: fuzzText, responses: fc.array(response, { minLength: 1, maxLength: 3 }) });

function toRecord(value: typeof set extends fc.Arbitrary<infer T> ? T : never): FuzzJson {
  return {
    question: value.question,
    responses: value.responses.map((item) => {
      const text = item.numbered
        ? item.steps.map((entry, index) => `Step ${index + 1}: ${entry.text}`).join("\n")
        : item.steps.map((entry) => entry.text).join("\n\n");
      const record: { [key: string]: FuzzJson } = { text, model_name: item.model };
      if (item.annotated) {
        record.steps = item.steps.map((entry) => entry.text);
        record.process_labels = item.steps.map((entry) => entry.label);
        record.q_values = item.steps.map((entry) => entry.q);
      }
      return record;
    }),
  };
}

const files = mutatedFile(fc.array(set, { minLength: 1, maxLength: 3 }).map((sets) => sets.map(toRecord)));

function expectWellFormedSets(sets: CandidateSet[]): void {
  sets.forEach((item, position) => {
    expect(Number.isInteger(item.index) && item.index >= position).toBe(true);
    expect(typeof item.question).toBe("string");
    for (const candidate of item.responses) {
      expect(typeof candidate.text).toBe("string");
      expect(typeof candidate.modelName).toBe("string");
      for (const text of candidate.steps) expect(typeof text).toBe("string");
      for (const values of [candidate.annotations?.processLabels, candidate.annotations?.qValues]) {
        for (const value of values ?? []) expect(Number.isFinite(value)).toBe(true);
      }
    }
  });
}

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("candidates");
});
afterAll(async () => {
  await folder.dispose();
});

describe("readCandidates / loadCandidates under fuzzing", () => {
  it("reads every mutated file to well-formed candidate sets or names file, element and field", async () => {
    const tally = new FuzzTally("candidates");
    const path = folder.path("candidates.json");
    await fc.assert(
      fc.asyncProperty(files, fc.boolean(), fc.boolean(), async (input, aligned, indented) => {
        await folder.write(
          "candidates.json",
          renderMutatedFile(input, (records) => JSON.stringify(records, null, indented ? 2 : 0)),
        );
        // The test set is the unmutated questions: mutations make the file misaligned, longer or shorter.
        const questions: Question[] = (input.records as { question: string }[]).map((record, index) => ({
          id: String(index),
          text: record.question,
          answer: null,
          domain: "math",
        }));
        try {
          const { sets, alignment } = await loadCandidates(
            path,
            aligned ? { testSet: { questions, file: "test.jsonl" } } : {},
          );
          expectWellFormedSets(sets);
          if (aligned) expect(alignment?.mismatches).toEqual([]);
          if (input.json.length === 0 && input.bytes.length === 0)
            expect(sets).toHaveLength(questions.length);
          tally.accept();
        } catch (error) {
          expectDataError(error, path, tally);
        }
      }),
      fuzzParameters(2107, fuzzRuns(300, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});
