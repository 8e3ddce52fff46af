import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Scorer, Trajectory } from "@pqm/core/reference";
import { isInterruptedError } from "@pqm/data";
import { describe, expect, it } from "vitest";
import { writeCandidateFixture } from "../candidates/candidate-file.test-helper.js";
import {
  formatScoringProgress,
  type ScoringProgress,
  scoreCandidatesCached,
  scoresCachePath,
} from "./scores-cache.js";

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
    const events: ScoringProgress[] = [];
    const onProgress = (event: ScoringProgress) => events.push(event);
    const first = await scoreCandidatesCached(scorer, candidates, dir, { onProgress });
    expect(first.scores).toEqual([[[1, 2], [3]], [[4]], [[1, 2, 3]]]);
    expect(scorer.calls).toEqual(["q0", "q1", "q2"]);
    expect(events.map(({ type, scored, total, resumed }) => [type, scored, total, resumed])).toEqual([
      ["start", 0, 3, 0],
      ["question", 1, 3, 0],
      ["question", 2, 3, 0],
      ["question", 3, 3, 0],
    ]);
    expect(events.every((event) => event.scorer === "length/v1" && event.elapsedSeconds >= 0)).toBe(true);
    const second = await scoreCandidatesCached(scorer, candidates, dir, { onProgress });
    expect(events).toHaveLength(4);
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
    await expect(scoreCandidatesCached(scorer, candidates, dir)).rejects.toThrow(/interrupted/);
    expect(scorer.calls).toEqual(["q0", "q1"]);
    // A crash may leave a torn last line: it is dropped and recomputed.
    const partial = `${scoresCachePath(dir, scorer.name, candidates.sha256)}.partial`;
    await writeFile(partial, `${await readFile(partial, "utf8")}{"index": 2, "sco`);
    scorer.failAt = null;
    const events: ScoringProgress[] = [];
    const result = await scoreCandidatesCached(scorer, candidates, dir, {
      onProgress: (event) => events.push(event),
    });
    expect(scorer.calls).toEqual(["q0", "q1", "q2"]);
    expect(events.map(({ type, scored, resumed }) => [type, scored, resumed])).toEqual([
      ["start", 2, 2],
      ["question", 3, 2],
    ]);
    expect(formatScoringProgress({ ...events[1]!, elapsedSeconds: 1.2 })).toBe(
      "scoring with length/v1: 3/3 questions (1.2 s, 2 resumed)",
    );
    expect(result.scores[2]).toEqual([[1, 2, 3]]);
  });

  it("stops between questions on an abort, saying what it kept, and resumes to the same file", async () => {
    const whole = await mkdtemp(join(tmpdir(), "pqm-eval-cache-"));
    const expected = await scoreCandidatesCached(new LengthScorer(), candidates, whole);
    const dir = await mkdtemp(join(tmpdir(), "pqm-eval-cache-"));
    const controller = new AbortController();
    // Aborted while question q1 is being scored: that question still finishes and is kept.
    const scorer = new (class extends LengthScorer {
      override async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
        if (trajectories[0]!.question.text === "q1") controller.abort(new Error("stop now"));
        return super.scoreSteps(trajectories);
      }
    })();
    const stopped = scoreCandidatesCached(scorer, candidates, dir, { signal: controller.signal });
    const error = await stopped.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(isInterruptedError(error)).toBe(true);
    const partial = `${scoresCachePath(dir, scorer.name, candidates.sha256)}.partial`;
    expect(error).toMatchObject({
      name: "AbortError",
      message: `stop now; kept the scores of 2 of 3 questions in ${partial}`,
      saved: { partial, scored: 2, total: 3, resumed: 0 },
    });
    expect(scorer.calls).toEqual(["q0", "q1"]);
    expect((await readFile(partial, "utf8")).trim().split("\n")).toHaveLength(3);
    const resumed = await scoreCandidatesCached(scorer, candidates, dir);
    expect(scorer.calls).toEqual(["q0", "q1", "q2"]);
    expect(await readFile(resumed.file, "utf8")).toBe(await readFile(expected.file, "utf8"));
  });

  it("refuses a scorer returning the wrong number of scores", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pqm-eval-cache-"));
    const broken: Scorer = { name: "broken", scoreSteps: async (t) => t.map(() => [0]) };
    await expect(scoreCandidatesCached(broken, candidates, dir)).rejects.toThrow(
      /scorer 'broken': question 0, candidate 0: 1 scores for 2 steps/,
    );
  });
});
