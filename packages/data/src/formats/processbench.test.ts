import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core/reference";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProcessBench } from "./processbench.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-pb-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(path: string) {
  const result: LabeledTrajectory[] = [];
  for await (const trajectory of readProcessBench(path)) result.push(trajectory);
  return result;
}

// Counts from the data README.
const subsets: [string, number][] = [
  ["gsm8k", 400],
  ["math", 1000],
  ["olympiadbench", 1000],
  ["omnimath", 1000],
];

describe.skipIf(!sharedAvailable)(`ProcessBench${sharedSkipReason}`, () => {
  for (const [name, count] of subsets) {
    it(`${name}: ${count} items, steps before the first wrong one are 1, from it on 0`, async () => {
      const path = sharedPath("data", "processbench", `${name}.json`);
      const raw = JSON.parse(readFileSync(path, "utf8")) as { id: string; steps: string[]; label: number }[];
      const trajectories = await readAll(path);
      expect(trajectories).toHaveLength(count);
      trajectories.forEach((trajectory, index) => {
        const item = raw[index]!;
        expect(trajectory.question.id).toBe(item.id);
        expect(trajectory.steps).toEqual(item.steps);
        const firstZero = trajectory.hardLabels.indexOf(0);
        expect(firstZero).toBe(item.label);
        if (firstZero !== -1)
          expect(trajectory.hardLabels.slice(firstZero).every((label) => label === 0)).toBe(true);
        expect(trajectory.question.domain).toBe(name === "gsm8k" ? "gsm" : "math");
      });
    });
  }
});

describe("ProcessBench items", () => {
  it("rejects a label outside the steps, naming file, item and field", async () => {
    const path = join(dir, "bad.json");
    const item = { id: "x-0", problem: "Q", steps: ["a", "b"], label: -1 };
    await writeFile(path, JSON.stringify([item, { ...item, label: 2 }]));
    await expect(readAll(path)).rejects.toThrow(/bad\.json:2: field 'label': first wrong step 2/);
  });
});
