import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataFormatError } from "@pqm/data";
import type { FuzzJson } from "@pqm/testing/fuzz";
import {
  FuzzTally,
  fuzzParameters,
  fuzzRuns,
  mutatedFile,
  renderJsonl,
  renderMutatedFile,
} from "@pqm/testing/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CandidateFile } from "../candidates/candidate-file.js";
import { readScoresFile } from "./scores-file.js";

// Valid pqm-scores/1 files (a header, then one line of step scores per question, some NaN written
// as null), read alone or against the candidate file they belong to, then mutated: the header's
// format, hash or scorer retyped, questions reordered or dropped, candidates or steps added or
// removed, scores as strings, huge or bare NaN/Infinity, bytes flipped or cut, a BOM, CRLF.

const SHA = "ab".repeat(32);

const score = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -30, max: 30, noNaN: true }) },
  { weight: 1, arbitrary: fc.constant(null) },
);
const question = fc.array(fc.array(score, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 });
const files = mutatedFile(
  fc
    .array(question, { minLength: 1, maxLength: 4 })
    .map(
      (questions): FuzzJson => [
        { format: "pqm-scores/1", candidates_sha256: SHA, scorer: "fuzz" },
        ...questions.map((scores, index) => ({ index, scores })),
      ],
    ),
);

/** The candidate file the unmutated scores belong to: same questions, candidates and step counts. */
function candidatesFor(records: FuzzJson): CandidateFile {
  const lines = (records as { scores?: (number | null)[][] }[]).slice(1);
  return {
    file: "candidates.json",
    sha256: SHA,
    alignment: null,
    questions: lines.map((line, index) => ({
      index,
      question: `q${index}`,
      responses: (line.scores ?? []).map((steps) => ({
        text: "",
        modelName: "m",
        steps: steps.map((_, step) => `step ${step}`),
      })),
    })),
  };
}

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-fuzz-scores-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("readScoresFile under fuzzing", () => {
  it("reads every mutated file to finite-or-NaN score lists or names file, line and field", async () => {
    const tally = new FuzzTally("scores");
    const path = join(folder, "scores.jsonl");
    await fc.assert(
      fc.asyncProperty(
        files,
        fc.boolean(),
        fc.constantFrom("error" as const, "exclude" as const),
        async (input, against, nan) => {
          await writeFile(path, renderMutatedFile(input, renderJsonl));
          const candidates = candidatesFor(input.records);
          try {
            const read = await readScoresFile(path, { nan, ...(against ? { candidates } : {}) });
            expect(read.header.candidates_sha256).toMatch(/^[0-9a-f]{64}$/);
            read.scores.forEach((questionScores, index) => {
              const excluded = read.excluded.some((entry) => entry.question === index);
              for (const steps of questionScores) {
                for (const value of steps) {
                  expect(typeof value).toBe("number");
                  if (Number.isNaN(value)) expect(excluded).toBe(true);
                }
              }
            });
            if (against) expect(read.scores).toHaveLength(candidates.questions.length);
            tally.accept();
          } catch (error) {
            if (!(error instanceof DataFormatError)) throw error;
            expect(error.file).toBe(path);
            expect(error.message.startsWith(`${path}:${error.line}`)).toBe(true);
            expect(error.message).not.toContain("\n");
            expect(Number.isInteger(error.line) && error.line! >= 1).toBe(true);
            if (error.field !== undefined) expect(error.message).toContain(`field '${error.field}'`);
            tally.reject(error.field?.replace(/\.\d+/g, "") ?? error.reason.split(/[:(]/)[0]!.trim());
          }
        },
      ),
      fuzzParameters(2150, fuzzRuns(400, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});
