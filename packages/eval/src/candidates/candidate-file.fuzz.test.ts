import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Question } from "@pqm/core";
import { DataFormatError } from "@pqm/data";
import type { FuzzJson } from "@pqm/testing/fuzz";
import { FuzzTally, fuzzParameters, fuzzRuns, mutatedFile, renderMutatedFile } from "@pqm/testing/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCandidateFile } from "./candidate-file.js";

// Valid candidate files as the evaluation reads them (hashed, then aligned with a test set), then
// mutated: sets dropped or added, questions edited, responses retyped, the list cut short, bytes
// flipped. The hash must be that of the bytes on disk, and every failure a DataFormatError naming
// the file, the set and the field.

const words = fc.stringMatching(/^[a-z][a-z ]{0,19}$/);
const set = fc.record({
  question: words,
  responses: fc.array(
    fc.record({
      text: fc
        .array(words, { minLength: 1, maxLength: 3 })
        .map((steps) => steps.map((step, index) => `Step ${index + 1}: ${step}`).join("\n")),
      model_name: fc.constantFrom("llama3-70b", "arith"),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});
const files = mutatedFile(fc.array(set as fc.Arbitrary<FuzzJson>, { minLength: 1, maxLength: 4 }));

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-fuzz-candidate-file-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("readCandidateFile under fuzzing", () => {
  it("hashes and reads every mutated file, aligned with its test set, or names file, set and field", async () => {
    const tally = new FuzzTally("candidate-file");
    const path = join(folder, "candidates.json");
    await fc.assert(
      fc.asyncProperty(files, async (input) => {
        const bytes = renderMutatedFile(input, (records) => JSON.stringify(records));
        await writeFile(path, bytes);
        const questions: Question[] = (input.records as { question: string }[]).map((record, index) => ({
          id: String(index),
          text: record.question,
          answer: null,
          domain: "math",
        }));
        try {
          const read = await readCandidateFile(path, { testSet: { questions, file: "test.jsonl" } });
          expect(read.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
          expect(read.questions).toHaveLength(questions.length);
          for (const entry of read.questions) {
            for (const response of entry.responses)
              for (const step of response.steps) expect(typeof step).toBe("string");
          }
          tally.accept();
        } catch (error) {
          if (!(error instanceof DataFormatError)) throw error;
          expect(error.file).toBe(path);
          expect(error.message.startsWith(path)).toBe(true);
          expect(error.message).not.toContain("\n");
          if (error.field !== undefined) expect(error.message).toContain(`field '${error.field}'`);
          tally.reject(error.line === undefined ? "file" : (error.field?.replace(/\.\d+/g, "") ?? "record"));
        }
      }),
      fuzzParameters(2160, fuzzRuns(300, 6_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});
