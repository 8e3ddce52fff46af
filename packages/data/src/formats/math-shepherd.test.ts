import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core/reference";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataFormatError } from "../errors.js";
import type { MathShepherdReadOptions } from "./math-shepherd.js";
import { readMathShepherd, writeMathShepherd } from "./math-shepherd.js";
import { createReadStats } from "./read-options.js";

const samplePath = sharedPath("data", "math-shepherd", "sample.jsonl");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-ms-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(path: string, options: MathShepherdReadOptions = {}): Promise<LabeledTrajectory[]> {
  const result: LabeledTrajectory[] = [];
  for await (const trajectory of readMathShepherd(path, options)) result.push(trajectory);
  return result;
}

async function fileWith(name: string, rows: unknown[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, rows.map((row) => (typeof row === "string" ? row : JSON.stringify(row))).join("\n"));
  return path;
}

describe.skipIf(!sharedAvailable)(`Math-Shepherd sample${sharedSkipReason}`, () => {
  const rawRows = sharedAvailable
    ? readFileSync(samplePath, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as { input: string; label: string; task: string })
    : [];

  it("parses every row: question before 'Step 1:', steps without tags, + as 1 and - as 0", async () => {
    const stats = createReadStats();
    const trajectories = await readAll(samplePath, { stats });
    expect(trajectories).toHaveLength(rawRows.length);
    expect(stats.yielded).toBe(rawRows.length);
    expect(stats.skipped).toBe(0);
    trajectories.forEach((trajectory, index) => {
      const raw = rawRows[index]!;
      expect(raw.input.startsWith(trajectory.question.text)).toBe(true);
      expect(trajectory.question.text).not.toMatch(/Step 1:/);
      expect(trajectory.steps.length).toBe((raw.input.match(/ки/g) ?? []).length);
      for (const step of trajectory.steps) {
        expect(step).not.toContain("ки");
        expect(step).toBe(step.trim());
        expect(raw.input).toContain(step);
      }
      // The signs in the label text, in order, are the labels.
      const signs = [...raw.label.matchAll(/ ([+-])(?=\nStep \d+:|$)/g)].map((match) =>
        match[1] === "+" ? 1 : 0,
      );
      expect(trajectory.hardLabels).toEqual(signs);
      expect(trajectory.meta).toMatchObject({ task: raw.task, line: index + 1 });
      expect(trajectory.question.domain).toBe(raw.task === "GSM8K" ? "gsm" : "math");
    });
    // The sample mixes correct and wrong steps.
    const all = trajectories.flatMap((trajectory) => trajectory.hardLabels);
    expect(all).toContain(0);
    expect(all).toContain(1);
  });

  it("writes back byte-identical input and label and the same task", async () => {
    const trajectories = await readAll(samplePath);
    const out = join(dir, "roundtrip.jsonl");
    expect(await writeMathShepherd(out, trajectories)).toBe(rawRows.length);
    const written = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(written).toEqual(rawRows.map((row) => ({ input: row.input, label: row.label, task: row.task })));
  });

  it("carries soft labels in the soft_label extension and reads them back", async () => {
    const trajectories = (await readAll(samplePath)).map((trajectory) => ({
      ...trajectory,
      softLabels: trajectory.steps.map((_, index) => (index + 1) / (trajectory.steps.length + 1)),
    }));
    const out = join(dir, "soft.jsonl");
    await writeMathShepherd(out, trajectories);
    const back = await readAll(out);
    expect(back.map((trajectory) => trajectory.softLabels)).toEqual(trajectories.map((t) => t.softLabels));
    expect(back.map((trajectory) => trajectory.steps)).toEqual(trajectories.map((t) => t.steps));
  });

  it("changes only the signs when labels are edited", async () => {
    const [first] = await readAll(samplePath);
    const flipped = {
      ...first!,
      hardLabels: first!.hardLabels.map((label) => (label === 1 ? 0 : 1) as 0 | 1),
    };
    const out = join(dir, "flipped.jsonl");
    await writeMathShepherd(out, [flipped]);
    const [row] = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { input: string; label: string });
    expect(row!.input).toBe(rawRows[0]!.input);
    expect((await readAll(out))[0]!.hardLabels).toEqual(flipped.hardLabels);
  });
});

describe("Math-Shepherd rows", () => {
  const good = { input: "Q? Step 1: a ки\nStep 2: b ки", label: "Q? Step 1: a +\nStep 2: b -", task: "MATH" };

  it("skips and counts the rows the reference parser skips, or throws with strict", async () => {
    const path = await fileWith("skips.jsonl", [
      good,
      { input: "no steps here", label: "no steps here", task: "GSM8K" },
      { input: "Q Step 1: a ки", label: "Q Step 1: a ?", task: "GSM8K" },
      { input: "Q Step 1: a ки\nStep 2: b ки", label: "Q Step 1: a +", task: "GSM8K" },
      good,
    ]);
    const stats = createReadStats();
    const read = await readAll(path, { stats });
    expect(read).toHaveLength(2);
    expect(stats.skippedByReason).toEqual({
      "too-few-chunks": 1,
      "label-without-sign": 1,
      "step-count-mismatch": 1,
    });
    expect(stats.examples.map((example) => example.line)).toEqual([2, 3, 4]);
    await expect(readAll(path, { strict: true })).rejects.toThrow(
      /skips\.jsonl:2: field 'input': .*too-few-chunks/,
    );
  });

  it("writes a non-canonical row back exactly (its whitespace kept in meta.layout)", async () => {
    const odd = {
      input: "  Q?\nStep 1:a  ки\n\nStep 2:   b ки ",
      label: "  Q?\nStep 1:a  -\n\nStep 2:   b + ",
      task: "MATH",
    };
    const path = await fileWith("odd.jsonl", [odd]);
    const [trajectory] = await readAll(path);
    expect(trajectory!.steps).toEqual(["a", "b"]);
    expect(trajectory!.hardLabels).toEqual([0, 1]);
    const out = join(dir, "odd-out.jsonl");
    await writeMathShepherd(out, [trajectory!]);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(odd);
  });

  it("names file, line and field for missing fields, wrong types and bad soft labels", async () => {
    const cases: [unknown, RegExp][] = [
      [{ input: "Q Step 1: a ки", task: "MATH" }, /case\.jsonl:1: field 'label': missing/],
      [{ input: 3, label: "x", task: "MATH" }, /case\.jsonl:1: field 'input': expected a string, got number/],
      [[1, 2], /case\.jsonl:1: expected a JSON object, got array/],
      [{ ...good, soft_label: [0.5] }, /case\.jsonl:1: field 'soft_label': has 1 values for 2 steps/],
      [
        { ...good, soft_label: [0.5, 2] },
        /case\.jsonl:1: field 'soft_label\.1': expected a number in \[0, 1\]/,
      ],
      ["{not json", /case\.jsonl:1: invalid JSON/],
    ];
    for (const [row, message] of cases) {
      const path = await fileWith("case.jsonl", [row]);
      const error = await readAll(path).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DataFormatError);
      expect(String((error as Error).message)).toMatch(message);
    }
  });

  it("counts malformed lines with onError skip and keeps going", async () => {
    const path = join(dir, "mixed.jsonl");
    await writeFile(
      path,
      Buffer.concat([
        Buffer.from(`${JSON.stringify(good)}\n{"input": 1}\n`),
        Buffer.from([0xff, 0xfe, 0x0a]),
        Buffer.from(`${JSON.stringify(good)}\n`),
      ]),
    );
    await expect(readAll(path)).rejects.toThrow(/mixed\.jsonl:2: field 'input'/);
    const stats = createReadStats();
    expect(await readAll(path, { onError: "skip", stats })).toHaveLength(2);
    expect(stats.skippedByReason).toEqual({ "wrong-type": 1, "invalid-utf8": 1 });
  });

  it("rejects an empty file", async () => {
    const path = join(dir, "empty.jsonl");
    await writeFile(path, "");
    await expect(readAll(path)).rejects.toThrow(/empty\.jsonl: empty file/);
  });

  it("refuses to write steps that would not read back", async () => {
    const bad: LabeledTrajectory = {
      question: { id: "1", text: "Q", answer: null, domain: "math" },
      steps: ["see Step 2: later"],
      hardLabels: [1],
    };
    await expect(writeMathShepherd(join(dir, "bad-out.jsonl"), [bad])).rejects.toThrow(/field 'steps\.0'/);
    const mismatch = { ...bad, steps: ["a"], hardLabels: [1, 0] as (0 | 1)[] };
    await expect(writeMathShepherd(join(dir, "bad-out.jsonl"), [mismatch])).rejects.toThrow(
      /2 labels for 1 steps/,
    );
  });
});
