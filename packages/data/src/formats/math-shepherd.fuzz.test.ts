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
import { readMathShepherd } from "./math-shepherd.js";
import { createReadStats } from "./read-options.js";

// Valid Math-Shepherd rows (some with the soft_label extension, some with other white space between
// steps), then mutated: bytes flipped, cut, inserted; fields deleted or retyped; labels, tags and
// headers added or removed inside the texts; odd numbers in soft_label; a BOM; CRLF line ends.

const step = fc.record({ text: fuzzText, correct: fc.boolean(), soft: fuzzProbability });
const row = fc.record({
  question: fuzzText,
  steps: fc.array(step, { minLength: 1, maxLength: 5 }),
  task: fc.constantFrom("GSM8K", "MATH"),
  separator: fc.constantFrom("\n", "\n", " ", "\n\n"),
  soft: fc.boolean(),
});
type Row = typeof row extends fc.Arbitrary<infer T> ? T : never;

function toRecord(value: Row, omit?: { field: "input" | "label"; step: number }): FuzzJson {
  const body = (field: "input" | "label", tag: (index: number) => string) =>
    value.steps
      .map((item, index) => {
        const end = omit?.field === field && omit.step % value.steps.length === index ? "" : ` ${tag(index)}`;
        return `Step ${index + 1}: ${item.text}${end}`;
      })
      .join(value.separator);
  const record: { [key: string]: FuzzJson } = {
    input: `${value.question} ${body("input", () => "ки")}`,
    label: `${value.question} ${body("label", (index) => (value.steps[index]!.correct ? "+" : "-"))}`,
    task: value.task,
  };
  if (value.soft) record.soft_label = value.steps.map((item) => item.soft);
  return record;
}

const files = mutatedFile(
  fc.array(row, { minLength: 1, maxLength: 4 }).map((rows) => rows.map((value) => toRecord(value))),
);

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("math-shepherd");
});
afterAll(async () => {
  await folder.dispose();
});

describe("readMathShepherd under fuzzing", () => {
  it("reads every mutated file to well-formed trajectories or names file, line and field", async () => {
    const tally = new FuzzTally("math-shepherd");
    const path = folder.path("rows.jsonl");
    await fc.assert(
      fc.asyncProperty(files, fc.boolean(), async (input, strict) => {
        await folder.write("rows.jsonl", renderMutatedFile(input, renderJsonl));
        const stats = createReadStats();
        try {
          const trajectories = await collect(readMathShepherd(path, { stats, strict }));
          trajectories.forEach(expectWellFormedTrajectory);
          // Every non-blank line is either yielded or counted as skipped.
          expect(stats.yielded + stats.skipped).toBe(stats.seen - stats.blankLines);
          if (strict) expect(stats.skipped).toBe(0);
          if (input.json.length === 0 && input.bytes.length === 0) {
            expect(trajectories.map((trajectory) => trajectory.hardLabels)).toEqual(
              (input.records as { label: string }[]).map((record) =>
                record.label
                  .split(/Step \d+:/)
                  .slice(1)
                  .map((chunk) => (chunk.trim().endsWith("+") ? 1 : 0)),
              ),
            );
          }
          tally.accept();
        } catch (error) {
          expectDataError(error, path, tally);
        }
      }),
      fuzzParameters(2101, fuzzRuns(400, 12_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
    expect(Object.keys(tally.rejected).length).toBeGreaterThan(3);
  });

  // A sign too many or too few in `label`, a tag too many or too few in `input`: the reference
  // parser trains on such a row with whatever sign ends each chunk; here it is skipped (counted) and
  // --strict refuses it, naming the line.
  const edits = fc.oneof(
    fc.record({
      kind: fc.constant("extra" as const),
      field: fc.constantFrom("input" as const, "label" as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      space: fc.boolean(),
      sign: fc.constantFrom("+", "-"),
    }),
    fc.record({
      kind: fc.constant("missing" as const),
      field: fc.constantFrom("input" as const, "label" as const),
      step: fc.nat(10),
    }),
  );

  it("skips (counted) or, with strict, refuses every row whose labels do not match its tags", async () => {
    const tally = new FuzzTally("math-shepherd-label-tags");
    const path = folder.path("tags.jsonl");
    await fc.assert(
      fc.asyncProperty(row, edits, async (value, edit) => {
        let record: { input: string; label: string };
        if (edit.kind === "missing") {
          record = toRecord(value, { field: edit.field, step: edit.step }) as typeof record;
        } else {
          record = toRecord(value) as typeof record;
          const text = record[edit.field];
          const at = Math.floor(edit.at * (text.length + 1));
          const mark = `${edit.space ? " " : ""}${edit.field === "input" ? "ки" : edit.sign}`;
          record[edit.field] = text.slice(0, at) + mark + text.slice(at);
        }
        await folder.write("tags.jsonl", Buffer.from(`${JSON.stringify(record)}\n`));
        const stats = createReadStats();
        expect(await collect(readMathShepherd(path, { stats }))).toEqual([]);
        expect(stats.skipped).toBe(1);
        const error = await collect(readMathShepherd(path, { strict: true })).catch(
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(Error);
        expectDataError(error, path, tally);
        expect((error as Error).message.startsWith(`${path}:1`)).toBe(true);
      }),
      fuzzParameters(2102, fuzzRuns(200, 6_000)),
    );
    tally.record();
  });
});
