import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core/reference";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Prm800kOptions } from "./prm800k.js";
import { readPrm800k } from "./prm800k.js";
import { createReadStats } from "./read-options.js";

const samplePath = sharedPath("data", "prm800k", "sample.jsonl");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-prm-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(path: string, options: Prm800kOptions = {}) {
  const result: LabeledTrajectory[] = [];
  for await (const trajectory of readPrm800k(path, options)) result.push(trajectory);
  return result;
}

interface RawCompletion {
  text: string;
  rating: number | null;
}
interface RawStep {
  completions: RawCompletion[] | null;
  chosen_completion: number | null;
}

describe.skipIf(!sharedAvailable)(`PRM800K sample${sharedSkipReason}`, () => {
  const rows = sharedAvailable
    ? readFileSync(samplePath, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { question: { problem: string }; label: { steps: RawStep[] } })
    : [];

  it("follows the chosen completions and stops at the first wrong step", async () => {
    const trajectories = await readAll(samplePath);
    expect(trajectories).toHaveLength(rows.length);
    trajectories.forEach((trajectory, index) => {
      const raw = rows[index]!;
      expect(trajectory.question.text).toBe(raw.question.problem);
      expect(trajectory.steps.length).toBe(trajectory.hardLabels.length);
      // Every label but the last is "not wrong", and a 0 can only be the last label.
      expect(trajectory.hardLabels.slice(0, -1).every((label) => label === 1)).toBe(true);
      trajectory.steps.forEach((text, at) => {
        const step = raw.label.steps[at]!;
        const picked =
          step.chosen_completion !== null
            ? step.completions![step.chosen_completion]!
            : step.completions!.find((completion) => completion.rating === -1)!;
        expect(text).toBe(picked.text);
        expect(trajectory.hardLabels[at]).toBe(picked.rating === -1 ? 0 : 1);
      });
      // It stopped at the first step without a chosen completion, or ran to the end.
      const firstUnchosen = raw.label.steps.findIndex((step) => step.chosen_completion === null);
      if (firstUnchosen === -1) expect(trajectory.steps).toHaveLength(raw.label.steps.length);
      else expect(trajectory.steps.length).toBeLessThanOrEqual(firstUnchosen + 1);
    });
    // The sample has solutions with a wrong step and solutions without one.
    expect(trajectories.some((trajectory) => trajectory.hardLabels.includes(0))).toBe(true);
    expect(trajectories.some((trajectory) => !trajectory.hardLabels.includes(0))).toBe(true);
  });

  it("counts neutral ratings as wrong with neutral: wrong", async () => {
    const lenient = await readAll(samplePath);
    const strict = await readAll(samplePath, { neutral: "wrong" });
    const neutralChosen = rows.flatMap((row) =>
      row.label.steps.filter(
        (step) => step.chosen_completion !== null && step.completions![step.chosen_completion]!.rating === 0,
      ),
    ).length;
    const zeros = (list: LabeledTrajectory[]) =>
      list.flatMap((t) => t.hardLabels).filter((label) => label === 0).length;
    expect(neutralChosen).toBeGreaterThan(0);
    expect(zeros(strict)).toBeGreaterThan(zeros(lenient));
  });
});

describe("PRM800K rows", () => {
  it("names the field of a bad rating and counts rows without a usable step", async () => {
    const step = (rating: unknown) => ({ completions: [{ text: "s", rating }], chosen_completion: 0 });
    const row = (steps: unknown[]) => ({
      question: { problem: "Q", ground_truth_answer: "1" },
      label: { steps },
    });
    const path = join(dir, "rows.jsonl");
    await writeFile(
      path,
      [row([step(1)]), row([{ completions: null, chosen_completion: null }]), row([step(7)])]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    await expect(readAll(path)).rejects.toThrow(
      /rows\.jsonl:3: field 'label\.steps\.0\.completions\.0\.rating': expected -1, 0, 1 or null/,
    );
    const stats = createReadStats();
    expect(await readAll(path, { onError: "skip", stats })).toHaveLength(1);
    expect(stats.skippedByReason).toEqual({ "no-steps": 1, "wrong-type": 1 });
  });
});
