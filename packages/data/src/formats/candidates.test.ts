import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Question } from "@pqm/core/reference";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CandidateSet } from "./candidates.js";
import { candidateTrajectories, loadCandidates, readCandidates, writeCandidates } from "./candidates.js";
import { loadMath500 } from "./test-sets.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-cand-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Candidate sets for the questions, built from real text: numbered, unnumbered and annotated responses. */
function candidatesFor(questions: readonly Question[], solutions: readonly string[]): CandidateSet[] {
  return questions.map((question, index) => {
    // Sentences with whitespace folded, so that no sentence holds a blank line of its own.
    const paragraphs = solutions[index]!.split(/(?<=\.)\s+/)
      .map((part) => part.replace(/\s+/g, " ").trim())
      .filter((part) => part !== "");
    const numbered = paragraphs.map((part, at) => `Step ${at + 1}: ${part}`).join("\n");
    return {
      index,
      question: question.text,
      responses: [
        { text: `Let's think.\n${numbered}`, modelName: "numbered", steps: [] },
        { text: paragraphs.join("\n\n"), modelName: "plain", steps: [] },
        {
          text: paragraphs.join(" "),
          modelName: "arith",
          steps: [],
          annotations: {
            steps: paragraphs,
            processLabels: paragraphs.map(() => 1),
            qValues: paragraphs.map(() => 0.5),
          },
        },
      ],
    };
  });
}

describe.skipIf(!sharedAvailable)(`best-of-n candidates against MATH500${sharedSkipReason}`, () => {
  const testFile = sharedPath("data", "math500", "test.jsonl");
  const solutions = sharedAvailable
    ? readFileSync(testFile, "utf8")
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as { solution: string }).solution)
    : [];

  it("writes the release format and reads it back aligned, split into steps", async () => {
    const questions = await loadMath500(testFile);
    const sets = candidatesFor(questions, solutions);
    const path = join(dir, "math500-candidates.json");
    expect(await writeCandidates(path, sets)).toBe(500);
    const raw = JSON.parse(readFileSync(path, "utf8")) as {
      question: string;
      responses: Record<string, unknown>[];
    }[];
    expect(raw).toHaveLength(500);
    expect(Object.keys(raw[0]!.responses[0]!)).toEqual(["text", "model_name"]);
    expect(Object.keys(raw[0]!.responses[2]!)).toEqual([
      "text",
      "model_name",
      "steps",
      "process_labels",
      "q_values",
    ]);

    const { sets: read, alignment } = await loadCandidates(path, { testSet: { questions, file: testFile } });
    expect(alignment).toMatchObject({ checked: 500, mismatches: [], extraCandidates: 0 });
    read.forEach((set, index) => {
      const paragraphs = sets[index]!.responses[2]!.annotations!.steps!;
      // Numbered: the preamble before "Step 1:" is dropped; blank lines: one step per paragraph.
      expect(set.responses[0]!.steps).toEqual(paragraphs);
      expect(set.responses[1]!.steps).toEqual(paragraphs);
      expect(set.responses[2]!.steps).toEqual(paragraphs);
      expect(set.responses[2]!.annotations?.qValues).toEqual(paragraphs.map(() => 0.5));
      expect(set.responses.map((response) => response.modelName)).toEqual(["numbered", "plain", "arith"]);
    });
    const trajectories = candidateTrajectories(read[0]!, questions[0]!);
    expect(trajectories.map((trajectory) => trajectory.steps)).toEqual(
      read[0]!.responses.map((r) => r.steps),
    );
  });

  it("keeps the preamble as a step when asked", async () => {
    const questions = (await loadMath500(testFile)).slice(0, 3);
    const path = join(dir, "preamble.json");
    await writeCandidates(path, candidatesFor(questions, solutions));
    const sets: CandidateSet[] = [];
    for await (const set of readCandidates(path, { preamble: "keep" })) sets.push(set);
    expect(sets[0]!.responses[0]!.steps[0]).toBe("Let's think.");
  });

  it("reports mismatched questions, or throws naming file and index", async () => {
    const questions = (await loadMath500(testFile)).slice(0, 20);
    const sets = candidatesFor(questions, solutions);
    [sets[3], sets[4]] = [
      { ...sets[4]!, index: 3 },
      { ...sets[3]!, index: 4 },
    ];
    // Whitespace differences alone are not a mismatch.
    sets[7] = { ...sets[7]!, question: `  ${sets[7]!.question.replace(/ /g, "\n ")} ` };
    const path = join(dir, "swapped.json");
    await writeCandidates(path, sets);
    const testSet = { questions, file: "math500-head.jsonl" };
    await expect(loadCandidates(path, { testSet })).rejects.toThrow(
      /swapped\.json:4: field 'question': candidate set 3 is for another question than math500-head\.jsonl item 3/,
    );
    const { alignment } = await loadCandidates(path, { testSet, onMismatch: "report" });
    expect(alignment!.mismatches.map((mismatch) => mismatch.index)).toEqual([3, 4]);
    expect(alignment!.mismatches[0]!.testQuestion).toBe(questions[3]!.text);
    expect(alignment!.mismatches[0]!.candidateQuestion).toBe(questions[4]!.text);
  });

  it("refuses a candidate file shorter than the test set, naming both files; reports a longer one", async () => {
    const questions = (await loadMath500(testFile)).slice(0, 10);
    const short = join(dir, "short.json");
    await writeCandidates(short, candidatesFor(questions.slice(0, 8), solutions));
    const testSet = { questions, file: "math500-head.jsonl" };
    await expect(loadCandidates(short, { testSet, onMismatch: "report" })).rejects.toThrow(
      /short\.json: has 8 candidate sets but the test set math500-head\.jsonl has 10 questions/,
    );
    const long = join(dir, "long.json");
    await writeCandidates(long, candidatesFor(questions, solutions));
    const shorterTest = { questions: questions.slice(0, 9), file: "nine.jsonl" };
    await expect(loadCandidates(long, { testSet: shorterTest })).rejects.toThrow(
      /more than the 9 questions of nine\.jsonl/,
    );
    const { alignment } = await loadCandidates(long, { testSet: shorterTest, onMismatch: "report" });
    expect(alignment!.extraCandidates).toBe(1);
  });
});

describe("candidate files", () => {
  it("names the field of a bad response and ignores unknown extra fields", async () => {
    const path = join(dir, "bad.json");
    const good = { question: "Q", responses: [{ text: "Step 1: a\nStep 2: b", model_name: "m", extra: 1 }] };
    await writeFile(path, JSON.stringify([good, { question: "Q", responses: [{ text: "x" }, { text: 3 }] }]));
    const sets: CandidateSet[] = [];
    await expect(
      (async () => {
        for await (const set of readCandidates(path)) sets.push(set);
      })(),
    ).rejects.toThrow(/bad\.json:2: field 'responses\.1\.text': expected a string, got number/);
    expect(sets[0]!.responses[0]).toEqual({
      text: "Step 1: a\nStep 2: b",
      modelName: "m",
      steps: ["a", "b"],
    });
  });
});
