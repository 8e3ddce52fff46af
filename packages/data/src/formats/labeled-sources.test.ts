import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core/reference";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataFormatError } from "../errors.js";
import { writeJsonl } from "./jsonl.js";
import { detectLabeledFormat, readLabeledTrajectories } from "./labeled-sources.js";
import { createReadStats } from "./read-options.js";

describe.skipIf(!sharedAvailable)(`labelled sources on the shared files${sharedSkipReason}`, () => {
  const cases = [
    ["math-shepherd", sharedPath("data", "math-shepherd", "sample.jsonl")],
    ["soft-labels", sharedPath("data", "soft-labels", "example_responses_n15_llama3_8b_math_process.jsonl")],
    ["prm800k", sharedPath("data", "prm800k", "sample.jsonl")],
    ["processbench", sharedPath("data", "processbench", "gsm8k.json")],
  ] as const;

  for (const [format, file] of cases) {
    it(`detects ${format} and reads labelled trajectories with one label per step`, async () => {
      expect(await detectLabeledFormat(file)).toBe(format);
      const stats = createReadStats();
      let count = 0;
      for await (const trajectory of readLabeledTrajectories(file, { stats })) {
        expect(trajectory.hardLabels).toHaveLength(trajectory.steps.length);
        count += 1;
      }
      expect(count).toBe(stats.yielded);
      expect(count).toBeGreaterThan(0);
    });
  }
});

describe("labelled sources: bad input", () => {
  let folder = "";
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "pqm-labelled-"));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it("names the file, line and the fields it saw for an unknown record", async () => {
    const file = join(folder, "odd.jsonl");
    await writeFile(file, '\n{"prompt": "x", "completion": "y"}\n');
    const error = await detectLabeledFormat(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DataFormatError);
    expect((error as DataFormatError).message).toMatch(
      /odd\.jsonl:2: cannot tell the format.*prompt, completion/,
    );
  });

  it("round-trips pqm's trajectory JSONL, soft labels included", async () => {
    const file = join(folder, "trajectories.jsonl");
    const trajectories: LabeledTrajectory[] = [
      {
        question: { id: "q1", text: "What is 2 + 3?", answer: "5", domain: "gsm" },
        steps: ["2 + 3 = 6.", "The answer is: 6"],
        hardLabels: [0, 0],
        softLabels: [0.125, 0],
      },
      { question: { id: "q2", text: "x?", answer: null, domain: "math" }, steps: ["No."], hardLabels: [1] },
    ];
    await writeJsonl(file, trajectories);
    expect(await detectLabeledFormat(file)).toBe("trajectories");
    const back: LabeledTrajectory[] = [];
    for await (const trajectory of readLabeledTrajectories(file)) back.push(trajectory);
    expect(back).toEqual(trajectories);
  });

  it("names line and field of a bad trajectory line", async () => {
    const file = join(folder, "bad-trajectories.jsonl");
    const good = {
      question: { id: "a", text: "q", answer: "1", domain: "gsm" },
      steps: ["s"],
      hardLabels: [1],
    };
    await writeJsonl(file, [good, { ...good, hardLabels: [2] }]);
    const read = async () => {
      for await (const _ of readLabeledTrajectories(file)) {
        // consume
      }
    };
    await expect(read()).rejects.toThrow(/bad-trajectories\.jsonl:2: field 'hardLabels\.0': expected 0 or 1/);
  });

  it("refuses an empty file naming it", async () => {
    const file = join(folder, "empty.jsonl");
    await writeFile(file, "");
    await expect(detectLabeledFormat(file)).rejects.toThrow(/empty\.jsonl/);
  });
});
