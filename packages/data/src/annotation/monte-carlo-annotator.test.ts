import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  Policy,
  PolicyCompletion,
  PolicySampleOptions,
  Question,
  Step,
  Trajectory,
} from "@pqm/core/reference";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArithEnvironment } from "../arith/index.js";
import { readMathShepherd } from "../formats/index.js";
import type { AnnotationProgress } from "./monte-carlo-annotator.js";
import { annotate, annotatedRowToTrajectory } from "./monte-carlo-annotator.js";
import { readAnnotations } from "./read-annotations.js";

const environment = new ArithEnvironment({ seed: 21 });
const trajectories = environment.sampleTrajectories({ questions: 12, samplesPerQuestion: 2, sampleSeed: 1 });

describe("annotate", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pqm-annotate-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("labels every step with hard and soft labels, rollouts and tokens", async () => {
    const { rows, summary } = await annotate(trajectories.slice(0, 4), {
      completer: environment.policy,
      n: 8,
    });
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      const steps = row.steps.length;
      expect(row.hardLabels).toHaveLength(steps);
      expect(row.rollouts.slice(0, -1).every((count) => count === 8)).toBe(true);
      // The last step is labelled by the solution's own answer, without rollouts.
      expect(row.rollouts[steps - 1]).toBe(0);
      const gold = row.question.answer;
      expect(row.hardLabels[steps - 1]).toBe(
        row.steps[steps - 1]?.endsWith(`The answer is: ${gold}`) ? 1 : 0,
      );
      row.softLabels.forEach((soft, t) => {
        expect(row.hardLabels[t]).toBe((soft ?? 0) > 0 ? 1 : 0);
      });
      expect(row.completionTokens.slice(0, -1).every((tokens) => tokens > 0)).toBe(true);
      expect(row.label).toBeDefined();
    }
    expect(summary.rollouts).toBe(rows.reduce((sum, row) => sum + 8 * (row.steps.length - 1), 0));
    expect(summary.tokensPerLabeledStep).toBeGreaterThan(0);
  });

  it("agrees better with the exact labels and Q-values as N grows", async () => {
    const quality = async (n: number) => {
      const { rows } = await annotate(trajectories, {
        completer: environment.policy,
        n,
        seed: 3,
      });
      let agree = 0;
      let reachable = 0;
      let steps = 0;
      let absoluteError = 0;
      for (const row of rows) {
        const labels = environment.exactProcessLabels(row.question, row.steps);
        const q = environment.exactQValues(row.question, row.steps);
        row.hardLabels.forEach((label, t) => {
          agree += label === labels[t] ? 1 : 0;
          reachable += label === ((q[t] ?? 0) > 0 ? 1 : 0) ? 1 : 0;
          absoluteError += Math.abs((row.softLabels[t] ?? 0) - (q[t] ?? 0));
          steps++;
        });
      }
      return { accuracy: agree / steps, reachable: reachable / steps, mae: absoluteError / steps };
    };
    const [n1, n4, n32] = [await quality(1), await quality(4), await quality(32)];
    // More rollouts rescue correct steps that one unlucky rollout marked wrong...
    expect(n4.accuracy).toBeGreaterThan(n1.accuracy);
    // ...and hard labels converge to "the answer is still reachable" (Q > 0), soft labels to Q.
    // (Against the strict process labels, very large N overshoots: recovery makes wrong steps
    // reachable; docs/annotation.md measures this.)
    expect(n4.reachable).toBeGreaterThan(n1.reachable);
    expect(n32.reachable).toBeGreaterThan(n4.reachable);
    expect(n4.mae).toBeLessThan(n1.mae);
    expect(n32.mae).toBeLessThan(n4.mae);
  });

  it("resumes a killed run: same final output as an uninterrupted run, no duplicates", async () => {
    const full = join(dir, "full.jsonl");
    const resumed = join(dir, "resumed.jsonl");
    const options = {
      completer: environment.policy,
      n: 4,
      seed: 9,
      concurrency: 3,
    };
    await annotate(trajectories, { ...options, output: full });

    const controller = new AbortController();
    let written = 0;
    const first = await annotate(trajectories, {
      ...options,
      output: resumed,
      signal: controller.signal,
      onRow: () => {
        if (++written === 5) controller.abort(new Error("killed"));
      },
    });
    expect(first.summary.aborted).toBe(true);
    const afterKill = (await readAnnotations(resumed)).length;
    expect(afterKill).toBeGreaterThanOrEqual(5);
    expect(afterKill).toBeLessThan(trajectories.length);
    // A kill in the middle of a write leaves half a line: it must be dropped, not kept or fatal.
    await appendFile(resumed, '{"key":"half a row","ind');

    const events: AnnotationProgress[] = [];
    const second = await annotate(trajectories, {
      ...options,
      output: resumed,
      onProgress: (event) => events.push(event),
    });
    expect(second.summary.resumedRows).toBe(afterKill);
    // One start with the resumed rows, one event per row labelled now, one end with everything done.
    expect(events.map((event) => event.type)).toEqual([
      "start",
      ...Array.from({ length: trajectories.length - afterKill }, () => "row"),
      "end",
    ]);
    expect(events[0]).toMatchObject({
      resumedRows: afterKill,
      doneRows: afterKill,
      totalRows: trajectories.length,
    });
    expect(events.at(-1)).toMatchObject({
      doneRows: trajectories.length,
      failedRows: 0,
      rollouts: second.summary.rollouts,
      labeledSteps: second.summary.labeledSteps,
    });
    expect(second.summary.droppedPartialLine).toBe(true);
    expect(second.summary.writtenRows).toBe(trajectories.length - afterKill);
    const lines = (await readFile(resumed, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(trajectories.length);
    expect(new Set(lines.map((line) => (JSON.parse(line) as { key: string }).key)).size).toBe(
      trajectories.length,
    );
    expect(await readAnnotations(resumed)).toEqual(await readAnnotations(full));

    // The output is also a Math-Shepherd file.
    const shepherd = [];
    for await (const row of readMathShepherd(full)) shepherd.push(row);
    expect(shepherd.map((row) => row.hardLabels)).toEqual(
      (await readAnnotations(full)).map((row) => row.hardLabels),
    );
  });

  it("refuses to resume an output written with other settings; overwrite starts over", async () => {
    const path = join(dir, "settings.jsonl");
    const rows = trajectories.slice(0, 2);
    const first = await annotate(rows, { completer: environment.policy, n: 4, output: path });
    expect(first.summary.writtenRows).toBe(2);
    const written = await readFile(path, "utf8");
    // The same settings resume (nothing to redo); another n is refused, naming the setting and the file.
    expect(
      (await annotate(rows, { completer: environment.policy, n: 4, output: path })).summary,
    ).toMatchObject({
      resumedRows: 2,
      writtenRows: 0,
    });
    const refused = annotate(rows, { completer: environment.policy, n: 8, output: path });
    await expect(refused).rejects.toThrow(
      /settings\.jsonl\.run\.json: field 'n': .*with n 4, this run asks for 8/,
    );
    await expect(
      annotate(rows, { completer: environment.policy, n: 4, search: "first-error", output: path }),
    ).rejects.toThrow(/field 'search'/);
    expect(await readFile(path, "utf8")).toBe(written);
    const fresh = await annotate(rows, {
      completer: environment.policy,
      n: 8,
      output: path,
      overwrite: true,
    });
    expect(fresh.summary).toMatchObject({ resumedRows: 0, writtenRows: 2 });
    expect((await readAnnotations(path)).every((row) => row.rollouts.some((count) => count === 8))).toBe(
      true,
    );
  });

  it("rejects damage before the last line with file and line", async () => {
    const path = join(dir, "damaged.jsonl");
    await writeFile(path, '{"key":"a"}\nnot json\n{"key":"b"}\n');
    await expect(
      annotate(trajectories.slice(0, 1), { completer: environment.policy, output: path }),
    ).rejects.toThrow(/damaged\.jsonl:2/);
  });

  it("first-error search gives the same labels with fewer rollouts where labels are monotone", async () => {
    const options = { completer: environment.policy, n: 8, seed: 4 };
    const all = await annotate(trajectories, options);
    const bisect = await annotate(trajectories, { ...options, search: "first-error" });
    let compared = 0;
    all.rows.forEach((row, i) => {
      const monotone = row.hardLabels.every((label, t) => t === 0 || label <= (row.hardLabels[t - 1] ?? 1));
      if (!monotone) return;
      compared++;
      expect(bisect.rows[i]?.hardLabels).toEqual(row.hardLabels);
    });
    expect(compared).toBeGreaterThan(trajectories.length / 2);
    expect(bisect.summary.rollouts).toBeLessThan(all.summary.rollouts);
    expect(bisect.summary.fullRollouts).toBe(all.summary.rollouts);
  });

  it("early stop ends a step at its first success", async () => {
    const { rows, summary } = await annotate(trajectories, {
      completer: environment.policy,
      n: 8,
      earlyStop: true,
    });
    for (const row of rows) {
      row.rollouts.slice(0, -1).forEach((count, t) => {
        if (row.hardLabels[t] === 1) expect(row.successes[t]).toBe(1);
        else expect(count).toBe(8);
      });
    }
    expect(summary.rollouts).toBeLessThan(summary.fullRollouts);
  });

  it("lets a judge veto or relabel rows", async () => {
    const { rows, summary } = await annotate(trajectories.slice(0, 6), {
      completer: environment.policy,
      n: 2,
      judge: ({ trajectory, hardLabels }) => {
        if (trajectory === trajectories[0]) return { action: "veto", reason: "disagrees" };
        if (trajectory === trajectories[1])
          return { action: "relabel", hardLabels: hardLabels.map(() => 0), reason: "strict" };
        return { action: "accept" };
      },
    });
    expect(rows[0]?.status).toBe("vetoed");
    expect(annotatedRowToTrajectory(rows[0]!)).toBeUndefined();
    expect(rows[1]?.hardLabels.every((label) => label === 0)).toBe(true);
    expect(rows[1]?.label).not.toMatch(/ \+(\n|$)/);
    expect(summary.vetoedRows).toBe(1);
    expect(summary.relabeledRows).toBe(1);
  });

  it("reports rows whose completer keeps failing and labels partial evidence only when allowed", async () => {
    const broken = trajectories[2]?.question.id;
    // For the broken question, only the first call per prefix answers; every later one fails.
    const makeFlaky = (): Policy => {
      const callsPerPrefix = new Map<string, number>();
      return {
        name: "flaky",
        async complete(
          question: Question,
          prefix: readonly Step[],
          options: PolicySampleOptions,
        ): Promise<PolicyCompletion[]> {
          const key = `${question.id}|${prefix.length}`;
          const calls = (callsPerPrefix.get(key) ?? 0) + 1;
          callsPerPrefix.set(key, calls);
          if (question.id === broken && calls > 1) throw new Error("server on fire");
          return environment.policy.complete(question, prefix, options);
        },
      };
    };
    const input = trajectories.slice(0, 4) as Trajectory[];
    const output = join(dir, "failing.jsonl");
    const strict = await annotate(input, {
      completer: makeFlaky(),
      n: 4,
      batchSize: 1,
      retries: 1,
      retryDelayMs: 1,
      output,
    });
    // Rows 2 and 3 are the two sampled solutions of the broken question.
    expect(strict.summary.failures.map((failure) => failure.index).sort()).toEqual([2, 3]);
    expect(strict.summary.failures[0]?.reason).toMatch(/server on fire/);
    expect((await readAnnotations(output)).map((row) => row.index)).toEqual([0, 1]);
    expect(await readFile(`${output}.failures.jsonl`, "utf8")).toMatch(/server on fire/);

    const partial = await annotate(input.slice(0, 3), {
      completer: makeFlaky(),
      n: 4,
      batchSize: 1,
      retries: 0,
      allowPartial: true,
    });
    expect(partial.summary.failures).toEqual([]);
    const row = partial.rows.find((r) => r.index === 2);
    // Labelled from the one rollout per step that did return.
    expect(row?.rollouts.slice(0, -1).every((count) => count === 1)).toBe(true);
  });
});
