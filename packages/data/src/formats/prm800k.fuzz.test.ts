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
import {
  collect,
  expectDataError,
  expectWellFormedTrajectory,
  fuzzFolder,
  fuzzText,
} from "./fuzz-checks.test-helper.js";
import { readPrm800k } from "./prm800k.js";
import { createReadStats } from "./read-options.js";

// Valid raw PRM800K rows (steps with rated completions, a chosen one or none, human completions,
// `completions: null` after giving up), then mutated: ratings out of range or retyped, chosen
// indices past the end, fields deleted, bytes flipped or cut, odd numbers, a BOM, CRLF.

const completion = fc.record({
  text: fuzzText,
  rating: fc.constantFrom<FuzzJson>(-1, 0, 1, null),
  flagged: fc.constantFrom<FuzzJson>(null, false, true),
});
const step = fc
  .record({
    completions: fc.oneof(
      { weight: 6, arbitrary: fc.array(completion, { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    chosen: fc.nat(5),
    choose: fc.boolean(),
  })
  .map((value): FuzzJson => {
    const completions = value.completions as FuzzJson[] | null;
    const chosen =
      value.choose && completions !== null ? value.chosen % completions.length : (null as FuzzJson);
    return { completions, human_completion: null, chosen_completion: chosen };
  });
const row = fc.record({
  labeler: fc.uuid(),
  problem: fuzzText,
  gold: fc.oneof(fuzzText, fc.constant(null)),
  steps: fc.array(step, { minLength: 0, maxLength: 4 }),
  finish: fc.constantFrom("solution", "found_error", "give_up", "bad_problem"),
});

function toRecord(value: typeof row extends fc.Arbitrary<infer T> ? T : never): FuzzJson {
  return {
    labeler: value.labeler,
    timestamp: "2022-07-17T16:56:51.323252",
    generation: 1,
    is_quality_control_question: false,
    is_initial_screening_question: false,
    question: { problem: value.problem, ground_truth_answer: value.gold },
    label: { steps: value.steps, total_time: 1000, finish_reason: value.finish },
  };
}

const files = mutatedFile(fc.array(row, { minLength: 1, maxLength: 3 }).map((rows) => rows.map(toRecord)));

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("prm800k");
});
afterAll(async () => {
  await folder.dispose();
});

describe("readPrm800k under fuzzing", () => {
  it("reads every mutated file to well-formed trajectories or names file, line and field", async () => {
    const tally = new FuzzTally("prm800k");
    const path = folder.path("rows.jsonl");
    await fc.assert(
      fc.asyncProperty(
        files,
        fc.boolean(),
        fc.constantFrom("correct" as const, "wrong" as const),
        async (input, strict, neutral) => {
          await folder.write("rows.jsonl", renderMutatedFile(input, renderJsonl));
          const stats = createReadStats();
          try {
            const trajectories = await collect(readPrm800k(path, { stats, strict, neutral }));
            trajectories.forEach(expectWellFormedTrajectory);
            // A -1 ends a trajectory: only its last step may be rated wrong... unless neutral counts as wrong.
            if (neutral === "correct") {
              for (const trajectory of trajectories)
                expect(trajectory.hardLabels.slice(0, -1)).not.toContain(0);
            }
            expect(stats.yielded + stats.skipped).toBe(stats.seen - stats.blankLines);
            if (strict) expect(stats.skipped).toBe(0);
            tally.accept();
          } catch (error) {
            expectDataError(error, path, tally);
          }
        },
      ),
      fuzzParameters(2104, fuzzRuns(300, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});
