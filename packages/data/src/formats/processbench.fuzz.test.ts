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
import { readProcessBench } from "./processbench.js";
import { createReadStats } from "./read-options.js";

// Valid ProcessBench items, as the released JSON list (indented or not) and as JSONL, then mutated:
// the first-wrong-step label out of range or fractional, steps retyped, elements added or dropped,
// the list cut short, bytes flipped, odd numbers, a BOM, CRLF.

const item = fc
  .record({
    subset: fc.constantFrom("gsm8k", "math", "olympiadbench", "omnimath"),
    index: fc.nat(500),
    problem: fuzzText,
    steps: fc.array(fuzzText, { minLength: 1, maxLength: 5 }),
    wrong: fc.nat(10),
    allRight: fc.boolean(),
  })
  .map(
    (value): FuzzJson => ({
      id: `${value.subset}-${value.index}`,
      generator: "Qwen2-7B-Instruct",
      problem: value.problem,
      steps: value.steps,
      final_answer_correct: value.allRight,
      label: value.allRight ? -1 : value.wrong % value.steps.length,
    }),
  );

const files = mutatedFile(fc.array(item, { minLength: 1, maxLength: 4 }));
const layouts = fc.constantFrom("json", "json-indented", "jsonl");

function render(layout: string) {
  return (records: FuzzJson): string =>
    layout === "jsonl" ? renderJsonl(records) : JSON.stringify(records, null, layout === "json" ? 0 : 2);
}

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("processbench");
});
afterAll(async () => {
  await folder.dispose();
});

describe("readProcessBench under fuzzing", () => {
  it("reads every mutated list or JSONL file to well-formed trajectories or names file, element and field", async () => {
    const tally = new FuzzTally("processbench");
    await fc.assert(
      fc.asyncProperty(files, layouts, async (input, layout) => {
        const name = layout === "jsonl" ? "gsm8k.jsonl" : "math.json";
        const path = await folder.write(name, renderMutatedFile(input, render(layout)));
        const stats = createReadStats();
        try {
          const trajectories = await collect(readProcessBench(path, { stats }));
          trajectories.forEach(expectWellFormedTrajectory);
          // Labels fall from 1 to 0 once, at the first wrong step, and stay there.
          for (const trajectory of trajectories) {
            const first = trajectory.hardLabels.indexOf(0);
            if (first !== -1) expect(trajectory.hardLabels.slice(first)).not.toContain(1);
          }
          if (input.json.length === 0 && input.bytes.length === 0) {
            expect(trajectories).toHaveLength((input.records as FuzzJson[]).length);
          }
          tally.accept();
        } catch (error) {
          expectDataError(error, path, tally);
        }
      }),
      fuzzParameters(2105, fuzzRuns(300, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});
