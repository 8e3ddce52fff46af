import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeCandidateFixture } from "../candidates/candidate-file.test-helper.js";
import { readScoresFile, writeScoresFile } from "./scores-file.js";

const candidates = await writeCandidateFixture([
  {
    question: "1+1?",
    responses: [
      { text: "Step 1: 1+1=2. Step 2: The answer is 2", model_name: "m" },
      { text: "Step 1: 3", model_name: "m" },
    ],
  },
  { question: "2+2?", responses: [{ text: "Step 1: 4", model_name: "m" }] },
]);
const goodScores = [[[0.5, 1.5], [-2]], [[3]]];

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "pqm-eval-scores-"));
}

describe("scores files", () => {
  it("round-trips through the writer and the reader, header first", async () => {
    const path = join(await tempDir(), "s.jsonl");
    await writeScoresFile(path, { candidatesSha256: candidates.sha256, scorer: "toy" }, goodScores);
    const read = await readScoresFile(path, { candidates });
    expect(read.header).toEqual({
      format: "pqm-scores/1",
      candidates_sha256: candidates.sha256,
      scorer: "toy",
    });
    expect(read.scores).toEqual(goodScores);
    expect(read.excluded).toEqual([]);
  });

  it("refuses scores for another candidate file, naming both files", async () => {
    const path = join(await tempDir(), "s.jsonl");
    await writeScoresFile(path, { candidatesSha256: "ab".repeat(32), scorer: "toy" }, goodScores);
    await expect(readScoresFile(path, { candidates })).rejects.toThrow(
      /s\.jsonl:1: field 'candidates_sha256'.*cands\.json/,
    );
  });

  it("refuses misaligned candidates and step counts", async () => {
    const dir = await tempDir();
    const fewerCandidates = join(dir, "a.jsonl");
    await writeScoresFile(fewerCandidates, { candidatesSha256: candidates.sha256, scorer: "toy" }, [
      [[0.5, 1.5]],
      [[3]],
    ]);
    await expect(readScoresFile(fewerCandidates, { candidates })).rejects.toThrow(
      /a\.jsonl:2: field 'scores'.*question 0: 1 candidates scored but \S*cands\.json has 2/,
    );
    const wrongSteps = join(dir, "b.jsonl");
    await writeScoresFile(wrongSteps, { candidatesSha256: candidates.sha256, scorer: "toy" }, [
      [[0.5], [-2]],
      [[3]],
    ]);
    await expect(readScoresFile(wrongSteps, { candidates })).rejects.toThrow(
      /candidate 0: 1 step scores but \S*cands\.json has 2 steps/,
    );
    const missingQuestion = join(dir, "c.jsonl");
    await writeScoresFile(missingQuestion, { candidatesSha256: candidates.sha256, scorer: "toy" }, [
      goodScores[0]!,
    ]);
    await expect(readScoresFile(missingQuestion, { candidates })).rejects.toThrow(
      /scores for 1 questions but \S*cands\.json has 2/,
    );
  });

  it("NaN: an error naming file, line, question and candidate, or a counted exclusion", async () => {
    const path = join(await tempDir(), "nan.jsonl");
    // Python's json.dumps writes NaN bare: the reader takes it as NaN, like a null.
    const header = JSON.stringify({
      format: "pqm-scores/1",
      candidates_sha256: candidates.sha256,
      scorer: "py",
    });
    await writeFile(
      path,
      `${header}\n{"index": 0, "scores": [[0.5, 1.5], [NaN]]}\n{"index": 1, "scores": [[null]]}\n`,
    );
    await expect(readScoresFile(path, { candidates })).rejects.toThrow(
      /nan\.jsonl:2: field 'scores\.1\.0': question 0, candidate 1, step 0: score is NaN/,
    );
    const read = await readScoresFile(path, { candidates, nan: "exclude" });
    expect(read.excluded).toEqual([
      { question: 0, candidate: 1, step: 0, line: 2 },
      { question: 1, candidate: 0, step: 0, line: 3 },
    ]);
  });

  it("writes NaN as null and refuses infinities", async () => {
    const path = join(await tempDir(), "w.jsonl");
    await writeScoresFile(path, { candidatesSha256: candidates.sha256, scorer: "toy" }, [
      [[Number.NaN, 1], [2]],
      [[3]],
    ]);
    await expect(readScoresFile(path)).rejects.toThrow(/score is NaN/);
    await expect(
      writeScoresFile(path, { candidatesSha256: candidates.sha256, scorer: "toy" }, [
        [[Number.POSITIVE_INFINITY]],
      ]),
    ).rejects.toThrow(/question 0, candidate 0, step 0: score is Infinity/);
  });

  it("refuses a bad header and out-of-order questions", async () => {
    const dir = await tempDir();
    const badFormat = join(dir, "f.jsonl");
    await writeFile(
      badFormat,
      `{"format": "other", "candidates_sha256": "${candidates.sha256}", "scorer": "x"}\n`,
    );
    await expect(readScoresFile(badFormat)).rejects.toThrow(/f\.jsonl:1: field 'format'/);
    const order = join(dir, "o.jsonl");
    const header = JSON.stringify({
      format: "pqm-scores/1",
      candidates_sha256: candidates.sha256,
      scorer: "x",
    });
    await writeFile(order, `${header}\n{"index": 1, "scores": [[3]]}\n`);
    await expect(readScoresFile(order)).rejects.toThrow(
      /o\.jsonl:2: field 'index': expected question 0, got 1/,
    );
  });
});
