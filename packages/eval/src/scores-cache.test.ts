import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Scorer, Trajectory } from "@pqm/core";
import { describe, expect, it } from "vitest";
import { writeCandidateFixture } from "./candidate-file.test-helper.js";
import { scoreCandidatesCached, scoresCachePath } from "./scores-cache.js";

const candidates = await writeCandidateFixture(
  [
    { question: "q0", responses: [{ text: "Step 1: a Step 2: bb" }, { text: "Step 1: ccc" }] },
    { question: "q1", responses: [{ text: "Step 1: dddd" }] },
    { question: "q2", responses: [{ text: "Step 1: e Step 2: ff Step 3: ggg" }] },
  ],
  "c.json",
);

/** A real scorer: each step's score is its length; counts the questions it was asked about. */
class LengthScorer implements Scorer {
  readonly name = "length/v1";
  calls: string[] = [];
  failAt: string | null = null;
  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    const question = trajectories[0]!.question.text;
    if (question === this.failAt) throw new Error("interrupted");
    this.calls.push(question);
    return trajectories.map((trajectory) => trajectory.steps.map((step) => step.length));
  }
}

describe("scoreCandidatesCached", () => {
  it("scores once, then reads the cache without calling the model", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pqm-eval-cache-"));
    const scorer = new LengthScorer();
    const first = await scoreCandidatesCached(scorer, candidates, dir, { progress: false });
    expect(first.scores).toEqual([[[1, 2], [3]], [[4]], [[1, 2, 3]]]);
    expect(scorer.calls).toEqual(["q0", "q1", "q2"]);
    const second = await scoreCandidatesCached(scorer, candidates, dir, { progress: false });
    expect(second.scores).toEqual(first.scores);
    expect(scorer.calls).toHaveLength(3);
    const path = scoresCachePath(dir, scorer.name, candidates.sha256);
    expect(path).toMatch(/length_v1-[0-9a-f]{16}\.scores\.jsonl$/);
    expect((await readFile(path, "utf8")).split("\n")[0]).toContain(
      `"candidates_sha256":"${candidates.sha256}"`,
    );
  });

  it("resumes an interrupted run from its partial file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pqm-eval-cache-"));
    const scorer = new LengthScorer();
    scorer.failAt = "q2";
    await expect(scoreCandidatesCached(scorer, candidates, dir, { progress: false })).rejects.toThrow(
      /interrupted/,
    );
    expect(scorer.calls).toEqual(["q0", "q1"]);
    // A crash may leave a torn last line: it is dropped and recomputed.
    const partial = `${scoresCachePath(dir, scorer.name, candidates.sha256)}.partial`;
    await writeFile(partial, `${await readFile(partial, "utf8")}{"index": 2, "sco`);
    scorer.failAt = null;
    const result = await scoreCandidatesCached(scorer, candidates, dir, { progress: false });
    expect(scorer.calls).toEqual(["q0", "q1", "q2"]);
    expect(result.scores[2]).toEqual([[1, 2, 3]]);
  });

  it("refuses a scorer returning the wrong number of scores", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pqm-eval-cache-"));
    const broken: Scorer = { name: "broken", scoreSteps: async (t) => t.map(() => [0]) };
    await expect(scoreCandidatesCached(broken, candidates, dir, { progress: false })).rejects.toThrow(
      /scorer 'broken': question 0, candidate 0: 1 scores for 2 steps/,
    );
  });
});
