import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { annotateTarget, killSeries, seededRandom, trainTarget, uninterrupted } from "./kill-harness.js";

// SIGKILL leaves no chance to clean up: what survives is what was already durable on disk. Five kill
// points per command at seeded random moments inside the work, the same command rerun after each,
// and the end result compared with an uninterrupted run's. bench/kill-soak.ts runs many more.

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-kill-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("SIGKILL, then the same command until it finishes", () => {
  it("pqm train ends with the weights and optimizer state of an uninterrupted run, bit for bit", async () => {
    const target = await trainTarget(join(folder, "train-data"));
    const straightOut = join(folder, "train-straight");
    const straight = await uninterrupted(target, straightOut, folder);
    // Each kill lands once a random step is logged, plus up to one (average) step's time, inside a step
    // or a save; never after the second-to-last step is logged: at least two steps and the final save
    // remain then, more than the delay, so every kill lands before the run ends. (Placing kills up to the
    // last step let a fast last step and save finish inside the delay. The soak also kills during the
    // final validation and save.)
    const series = await killSeries(target, join(folder, "train-killed"), {
      cwd: folder,
      kills: 5,
      end: (await target.progressEnd(straightOut)) - 2,
      withinMs: (straight.run.ms - (straight.run.markerMs ?? 0)) / target.totalUnits,
      random: seededRandom(1),
    });
    const killed = series.points.filter((point) => point.killed);
    expect(killed.length, JSON.stringify(series.points)).toBe(5);
    // Each rerun resumed from the latest checkpoint (or, killed before the first, started over).
    for (const point of killed) expect(point.resumedWith, JSON.stringify(point)).not.toBeNull();
    // A checkpoint every 2 steps: at most the steps since the last one are done again.
    for (const point of killed) expect(point.unitsRedone).toBeLessThanOrEqual(2);
    expect(series.result).toEqual(straight.result);
  }, 120_000);

  it("pqm annotate ends with the rows of an uninterrupted run", async () => {
    const target = annotateTarget();
    const straightOut = join(folder, "annotate-straight");
    const straight = await uninterrupted(target, straightOut, folder);
    // Each kill lands once the output has grown to a random size short of the whole.
    const series = await killSeries(target, join(folder, "annotate-killed"), {
      cwd: folder,
      kills: 5,
      end: await target.progressEnd(straightOut),
      withinMs: 20,
      random: seededRandom(2),
    });
    expect(series.points.filter((point) => point.killed).length).toBe(5);
    // Rows are fsynced one by one: a kill loses at most the row being written (a torn last line).
    for (const point of series.points) expect(point.unitsRedone).toBeLessThanOrEqual(1);
    expect(series.result).toEqual(straight.result);
    expect(series.result.failures).toBe("0");
  }, 120_000);
});
