import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReadStats } from "./read-options.js";
import { gsm8kGoldAnswer, loadGsm8k, loadGsmPlus, loadMath500, loadQuestions } from "./test-sets.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-tests-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rawRows(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.skipIf(!sharedAvailable)(`test sets${sharedSkipReason}`, () => {
  it("MATH500: 500 questions with answer, subject, level and unique_id", async () => {
    const path = sharedPath("data", "math500", "test.jsonl");
    const questions = await loadMath500(path);
    const raw = rawRows(path);
    expect(questions).toHaveLength(500);
    expect(new Set(questions.map((question) => question.id)).size).toBe(500);
    questions.forEach((question, index) => {
      expect(question).toEqual({
        id: raw[index]!.unique_id,
        text: raw[index]!.problem,
        answer: raw[index]!.answer,
        domain: "math",
        meta: { subject: raw[index]!.subject, level: raw[index]!.level },
      });
    });
  });

  it("GSM-Plus testmini: 2400 questions, the 300 'None' golds null, perturbation type kept", async () => {
    const questions = await loadGsmPlus(sharedPath("data", "gsm-plus", "testmini.jsonl"));
    expect(questions).toHaveLength(2400);
    expect(questions.filter((question) => question.answer === null)).toHaveLength(300);
    expect(questions.every((question) => question.domain === "gsm")).toBe(true);
    const types = new Set(questions.map((question) => question.meta?.perturbation_type));
    expect(types.size).toBe(8);
    for (const question of questions.filter((q) => q.answer === null)) {
      expect(question.meta?.perturbation_type).toBe("critical thinking");
    }
    // Golds are numbers or, for a few fraction-conversion items, fractions such as 1/2.
    for (const question of questions.filter((q) => q.answer !== null))
      expect(question.answer).toMatch(/^-?[\d.]+(\/\d+)?$/);
  });

  it("GSM8K test: 1319 questions with the number after ####", async () => {
    const path = sharedPath("data", "gsm8k", "test.jsonl");
    const questions = await loadGsm8k(path);
    const raw = rawRows(path);
    expect(questions).toHaveLength(1319);
    questions.forEach((question, index) => {
      const solution = raw[index]!.answer as string;
      expect(solution.endsWith(`#### ${question.answer}`) || solution.includes(",")).toBe(true);
      expect(question.answer).toMatch(/^-?\d+(\.\d+)?$/);
    });
  });

  it("reads the same questions from a Parquet export", async () => {
    const path = sharedPath("data", "gsm8k", "test.jsonl");
    const raw = rawRows(path);
    const parquetPath = join(dir, "gsm8k-test.parquet");
    parquetWriteFile({
      filename: parquetPath,
      columnData: [
        { name: "question", data: raw.map((row) => row.question as string), type: "STRING" },
        { name: "answer", data: raw.map((row) => row.answer as string), type: "STRING" },
      ],
      rowGroupSize: 500,
    });
    expect(await loadGsm8k(parquetPath)).toEqual(await loadGsm8k(path));
  });
});

describe("test-set loaders", () => {
  it("takes the gold number after the last ####, without thousands commas", () => {
    expect(gsm8kGoldAnswer("so 3 + 4 = 7\n#### 1,234")).toBe("1234");
    expect(gsm8kGoldAnswer("#### 1\n#### -2.5 ")).toBe("-2.5");
    expect(gsm8kGoldAnswer("no marker")).toBeNull();
  });

  it("generic loader: question or problem, answer as string, number, null or None; ids; extra fields to meta", async () => {
    const path = join(dir, "generic.jsonl");
    await writeFile(
      path,
      [
        { question: "A?", answer: 3, source: "x" },
        { problem: "B?", answer: "None", id: "b" },
        { problem: "C?", answer: null, id: 5 },
      ]
        .map((row) => JSON.stringify(row))
        .join("\n"),
    );
    const questions = await loadQuestions(path, { domain: "gsm" });
    expect(questions).toEqual([
      { id: "0", text: "A?", answer: "3", domain: "gsm", meta: { source: "x" } },
      { id: "b", text: "B?", answer: null, domain: "gsm", meta: {} },
      { id: "5", text: "C?", answer: null, domain: "gsm", meta: {} },
    ]);
  });

  it("names file, line and field of bad rows; skips them with onError skip", async () => {
    const path = join(dir, "bad.jsonl");
    await writeFile(
      path,
      `${JSON.stringify({ question: "A?", answer: "1" })}\n${JSON.stringify({ answer: "1" })}\n${JSON.stringify({ question: "C", answer: [1] })}\n`,
    );
    await expect(loadQuestions(path, { domain: "math" })).rejects.toThrow(
      /bad\.jsonl:2: field 'question': missing/,
    );
    const stats = createReadStats();
    expect(await loadQuestions(path, { domain: "math", onError: "skip", stats })).toHaveLength(1);
    expect(stats.skippedByReason).toEqual({ "missing-field": 1, "wrong-type": 1 });
    const gsm = join(dir, "gsm-bad.jsonl");
    await writeFile(gsm, JSON.stringify({ question: "Q", answer: "no gold here" }));
    await expect(loadGsm8k(gsm)).rejects.toThrow(/gsm-bad\.jsonl:1: field 'answer': no '#### N'/);
    const math = join(dir, "math-bad.jsonl");
    await writeFile(
      math,
      JSON.stringify({ problem: "Q", answer: "1", subject: "x", level: "2", unique_id: "u" }),
    );
    await expect(loadMath500(math)).rejects.toThrow(
      /math-bad\.jsonl:1: field 'level': expected a number, got string/,
    );
  });
});
