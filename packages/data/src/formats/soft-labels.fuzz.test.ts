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
  fuzzProbability,
  fuzzText,
} from "./fuzz-checks.test-helper.js";
import { createReadStats } from "./read-options.js";
import { readSoftLabels } from "./soft-labels.js";

// Valid rollout-labelled rows (BiRM layout: outputs with tagged responses and three label columns),
// then mutated: label arrays lengthened or shortened, values retyped or out of [0, 1], tags added or
// removed, bytes flipped or cut, odd numbers, a BOM, CRLF.

const step = fc.record({ text: fuzzText, hard: fc.boolean(), soft: fuzzProbability });
const output = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 4 }),
  answer: fuzzText,
  label: fc.oneof(fc.boolean(), fc.constant("[invalid]")),
});
const row = fc.record({
  idx: fc.nat(1000),
  question: fuzzText,
  solution: fuzzText,
  gold: fuzzText,
  outputs: fc.array(output, { minLength: 1, maxLength: 3 }),
});

function toRecord(value: typeof row extends fc.Arbitrary<infer T> ? T : never): FuzzJson {
  return {
    idx: value.idx,
    input: `Question: ${value.question}`,
    question: value.question,
    answer: value.solution,
    ground_truth: value.gold,
    outputs: value.outputs.map((item) => ({
      response: `${item.steps.map((entry) => entry.text).join(" ки\n")} ки`,
      response_answer: item.answer,
      label: item.label,
      step_labels: item.steps.map((entry) => entry.hard),
      step_h_label: item.steps.map((entry) => entry.hard),
      step_s_label: item.steps.map((entry) => entry.soft),
    })),
  };
}

const files = mutatedFile(fc.array(row, { minLength: 1, maxLength: 3 }).map((rows) => rows.map(toRecord)));

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("soft-labels");
});
afterAll(async () => {
  await folder.dispose();
});

describe("readSoftLabels under fuzzing", () => {
  it("reads every mutated file to well-formed trajectories or names file, line and field", async () => {
    const tally = new FuzzTally("soft-labels");
    const path = folder.path("rows.jsonl");
    await fc.assert(
      fc.asyncProperty(files, async (input) => {
        await folder.write("rows.jsonl", renderMutatedFile(input, renderJsonl));
        const stats = createReadStats();
        try {
          const trajectories = await collect(readSoftLabels(path, { stats }));
          trajectories.forEach(expectWellFormedTrajectory);
          for (const trajectory of trajectories) expect(trajectory.softLabels).toBeDefined();
          if (input.json.length === 0 && input.bytes.length === 0) {
            const outputs = (input.records as { outputs: { step_s_label: number[] }[] }[]).flatMap(
              (record) => record.outputs,
            );
            expect(trajectories.map((trajectory) => trajectory.softLabels)).toEqual(
              outputs.map((item) => item.step_s_label),
            );
          }
          tally.accept();
        } catch (error) {
          expectDataError(error, path, tally);
        }
      }),
      fuzzParameters(2103, fuzzRuns(300, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});
