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
import { readLabeledTrajectories } from "./labeled-sources.js";
import { createReadStats } from "./read-options.js";

// pqm's own trajectory JSONL (a LabeledTrajectory per line), read with the format detected from the
// first record, then mutated: labels other than 0/1, soft labels out of range, label arrays of the
// wrong length, a question without text, fields retyped, bytes flipped or cut, odd numbers, a BOM.

const step = fc.record({ text: fuzzText, label: fc.constantFrom(0, 1), soft: fuzzProbability });
const trajectory = fc
  .record({
    id: fc.oneof(fc.constant(undefined), fc.stringMatching(/^[a-z0-9-]{1,8}$/)),
    text: fuzzText,
    answer: fc.oneof(fuzzText, fc.constant(null)),
    domain: fc.constantFrom("math", "gsm"),
    steps: fc.array(step, { minLength: 1, maxLength: 4 }),
    soft: fc.boolean(),
  })
  .map((value): FuzzJson => {
    const record: { [key: string]: FuzzJson } = {
      question: {
        ...(value.id === undefined ? {} : { id: value.id }),
        text: value.text,
        answer: value.answer,
        domain: value.domain,
      },
      steps: value.steps.map((item) => item.text),
      hardLabels: value.steps.map((item) => item.label),
    };
    if (value.soft) record.softLabels = value.steps.map((item) => item.soft);
    return record;
  });

const files = mutatedFile(fc.array(trajectory, { minLength: 1, maxLength: 4 }));

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("trajectories");
});
afterAll(async () => {
  await folder.dispose();
});

describe("readLabeledTrajectories (trajectory JSONL, format detected) under fuzzing", () => {
  it("reads every mutated file to well-formed trajectories or names file, line and field", async () => {
    const tally = new FuzzTally("trajectories");
    const path = folder.path("trajectories.jsonl");
    await fc.assert(
      fc.asyncProperty(files, fc.boolean(), async (input, detect) => {
        await folder.write("trajectories.jsonl", renderMutatedFile(input, renderJsonl));
        const stats = createReadStats();
        try {
          const read = await collect(
            readLabeledTrajectories(path, { stats, ...(detect ? {} : { format: "trajectories" }) }),
          );
          read.forEach(expectWellFormedTrajectory);
          expect(stats.yielded + stats.skipped).toBe(stats.seen - stats.blankLines);
          if (input.json.length === 0 && input.bytes.length === 0) {
            expect(read.map((item) => item.hardLabels)).toEqual(
              (input.records as { hardLabels: number[] }[]).map((record) => record.hardLabels),
            );
          }
          tally.accept();
        } catch (error) {
          expectDataError(error, path, tally);
        }
      }),
      fuzzParameters(2106, fuzzRuns(300, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});

describe("labeled inputs the fuzzing (and the issue) found", () => {
  const Q = "Tom has 3 apples and buys 5. How many?";
  const row = (label: string) =>
    JSON.stringify({ input: `${Q} Step 1: 3 + 5 = 8 ки\nStep 2: The answer is: 8 ки`, label, task: "GSM8K" });
  const good = row(`${Q} Step 1: 3 + 5 = 8 +\nStep 2: The answer is: 8 +`);
  const cases: [string, string, string, RegExp][] = [
    // Passed even --strict: the reference parser reads the last sign of each chunk.
    [
      "a Math-Shepherd label with one sign too many",
      "math-shepherd",
      `${good}\n${row(`${Q} Step 1: 3 + 5 = 8 + -\nStep 2: The answer is: 8 +`)}\n`,
      /rows\.jsonl:2: field 'label': step 1 reads "3 \+ 5 = 8 \+" before its sign .*\(label-tag-mismatch\)$/,
    ],
    // Gave trajectories without steps.
    [
      "a ProcessBench item without steps",
      "processbench",
      `${JSON.stringify({ id: "gsm8k-0", problem: "x", steps: [], label: -1 })}\n`,
      /rows\.jsonl:1: field 'steps': expected at least one step, got \[\]$/,
    ],
    [
      "a trajectory without steps",
      "trajectories",
      `${JSON.stringify({ question: { text: "x", answer: null }, steps: [], hardLabels: [] })}\n`,
      /rows\.jsonl:1: field 'steps': expected at least one step, got \[\]$/,
    ],
    [
      "a soft-label output without a tagged step",
      "soft-labels",
      `${JSON.stringify({
        idx: 0,
        input: "x",
        question: "x",
        answer: "x",
        ground_truth: "8",
        outputs: [
          {
            response: "",
            response_answer: "",
            label: true,
            step_labels: [],
            step_h_label: [],
            step_s_label: [],
          },
        ],
      })}\n`,
      /rows\.jsonl:1: field 'outputs\.0\.response': no step tagged 'ки' in the response$/,
    ],
  ];
  for (const [what, format, text, message] of cases) {
    it(`refuses ${what} with strict`, async () => {
      const path = await folder.write("rows.jsonl", Buffer.from(text));
      await expect(
        collect(readLabeledTrajectories(path, { format: format as "math-shepherd", strict: true })),
      ).rejects.toThrow(message);
    });
  }

  it("counts a skipped PRM800K row, and strict refuses it", async () => {
    const prm = (steps: unknown[]) =>
      JSON.stringify({ question: { problem: "x", ground_truth_answer: "8" }, label: { steps } });
    const path = await folder.write(
      "rows.jsonl",
      Buffer.from(
        `${prm([{ completions: [{ text: "a", rating: 1 }], chosen_completion: 0 }])}\n${prm([{ completions: null }])}\n`,
      ),
    );
    const stats = createReadStats();
    expect(await collect(readLabeledTrajectories(path, { format: "prm800k", stats }))).toHaveLength(1);
    expect(stats.skippedByReason).toEqual({ "no-steps": 1 });
    await expect(collect(readLabeledTrajectories(path, { format: "prm800k", strict: true }))).rejects.toThrow(
      /rows\.jsonl:2: no step with a usable rating$/,
    );
  });

  it("reads Math-Shepherd rows from a JSON list as from JSONL (by extension)", async () => {
    const path = await folder.write("rows.json", Buffer.from(`[${good}, ${good}]`));
    const read = await collect(readLabeledTrajectories(path, { format: "math-shepherd" }));
    expect(read.map((trajectory) => trajectory.hardLabels)).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });
});
