import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core/reference";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReadStats } from "./read-options.js";
import { createReadStats } from "./read-options.js";
import { readSoftLabels, writeSoftLabels } from "./soft-labels.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-soft-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(path: string, options: { onError?: "throw" | "skip"; stats?: ReadStats } = {}) {
  const result: LabeledTrajectory[] = [];
  for await (const trajectory of readSoftLabels(path, options)) result.push(trajectory);
  return result;
}

const folder = sharedPath("data", "soft-labels");
const files = sharedAvailable ? readdirSync(folder).filter((name) => name.endsWith(".jsonl")) : [];

describe.skipIf(!sharedAvailable)(`soft-label files${sharedSkipReason}`, () => {
  it("has three files", () => {
    expect(files).toHaveLength(3);
  });

  for (const name of files) {
    it(`${name}: one trajectory per output, labels aligned with the tagged steps, exact round trip`, async () => {
      const path = join(folder, name);
      const rows = readFileSync(path, "utf8")
        .trim()
        .split("\n")
        .map(
          (line) =>
            JSON.parse(line) as { idx: number; ground_truth: string; outputs: Record<string, unknown>[] },
        );
      const trajectories = await readAll(path);
      const outputs = rows.flatMap((row) => row.outputs.map((output) => ({ row, output })));
      expect(rows).toHaveLength(10);
      expect(trajectories).toHaveLength(outputs.length);
      trajectories.forEach((trajectory, index) => {
        const { row, output } = outputs[index]!;
        expect(trajectory.question.id).toBe(String(row.idx));
        expect(trajectory.question.answer).toBe(row.ground_truth);
        expect(trajectory.steps).toHaveLength(((output.response as string).match(/ки/g) ?? []).length);
        expect(trajectory.hardLabels).toEqual(
          (output.step_h_label as boolean[]).map((value) => (value ? 1 : 0)),
        );
        expect(trajectory.softLabels).toEqual(output.step_s_label);
        expect(trajectory.meta?.outcome).toBe(output.label);
      });
      const out = join(dir, name);
      expect(await writeSoftLabels(out, trajectories)).toBe(rows.length);
      const written = readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as unknown);
      expect(written).toEqual(rows);
    });
  }
});

describe("soft-label rows", () => {
  const output = {
    response: "a ки\nb ки",
    response_answer: "1",
    label: true,
    step_labels: [true, true],
    step_h_label: [true, false],
    step_s_label: [0.5, 0],
  };
  const row = { idx: 7, input: "Q", question: "Q", answer: "sol", ground_truth: "1", outputs: [output] };

  it("names the field of a bad value; skips the row with onError skip", async () => {
    const path = join(dir, "bad.jsonl");
    const bad = { ...row, outputs: [output, { ...output, step_s_label: [0.5, 1.5] }] };
    await writeFile(path, `${JSON.stringify(row)}\n${JSON.stringify(bad)}\n`);
    await expect(readAll(path)).rejects.toThrow(
      /bad\.jsonl:2: field 'outputs\.1\.step_s_label\.1': expected a number in \[0, 1\]/,
    );
    const stats = createReadStats();
    expect(await readAll(path, { onError: "skip", stats })).toHaveLength(1);
    expect(stats.skippedByReason).toEqual({ "wrong-type": 1 });
  });

  it("rejects labels that do not match the tagged steps", async () => {
    const path = join(dir, "count.jsonl");
    await writeFile(path, JSON.stringify({ ...row, outputs: [{ ...output, step_h_label: [true] }] }));
    await expect(readAll(path)).rejects.toThrow(
      /count\.jsonl:1: field 'outputs\.0': response has 2 tagged steps/,
    );
  });
});
