import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/run-cli.test-helper.js";

// Every malformed file of test/malformed goes through the built CLI (the command that reads that
// kind of file), which must exit with the expected code and print the expected first line on stderr:
// the file, and where the format has them the line (or element, or row) and the field, or for
// binary files the tensor and the byte range. The table is test/malformed/expected.txt.

const corpus = join(import.meta.dirname, "malformed");

interface CorpusCase {
  file: string;
  args: string;
  exitCode: number;
  firstLine: string;
}

const cases: CorpusCase[] = readFileSync(join(corpus, "expected.txt"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "" && !line.startsWith("#"))
  .map((line) => {
    const [file = "", args = "", exitCode = "", firstLine = ""] = line.split("\t");
    return { file, args, exitCode: Number(exitCode), firstLine };
  });

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "pqm-malformed-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the malformed-file corpus", () => {
  it("has 40 or more cases, one per file, and covers every file in the folder", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const files = cases.map((entry) => entry.file);
    expect(new Set(files).size).toBe(files.length);
    const present = readdirSync(corpus).filter(
      (name) => name !== "expected.txt" && !name.startsWith("valid-"),
    );
    expect(present.sort()).toEqual([...files].sort());
  });

  // Three at a time: each case is a Node process that loads the CLI (and for some TF.js).
  it.concurrent.each(
    chunk(cases, Math.ceil(cases.length / 3)).map((group, index) => [index + 1, group] as const),
  )(
    "group %i: each file fails with its expected exit code and first line of stderr",
    async (_group, group) => {
      const failures: string[] = [];
      for (const entry of group) {
        const out = join(scratch, entry.file);
        const args = entry.args
          .split(" ")
          .map((arg) => arg.replaceAll("{out}", out).replaceAll("{}", entry.file));
        const run = await runCli(args, { cwd: corpus, env: { PQM_BACKEND: "cpu" } });
        const first = (run.stderr.split("\n")[0] ?? "").replaceAll(`${corpus}/`, "");
        const matches = entry.firstLine.endsWith("…")
          ? first.startsWith(entry.firstLine.slice(0, -1))
          : first === entry.firstLine;
        if (run.exitCode !== entry.exitCode || !matches) {
          failures.push(
            `${entry.file}: exit ${run.exitCode} (expected ${entry.exitCode})\n  got      ${first}\n  expected ${entry.firstLine}`,
          );
        }
      }
      expect(failures.join("\n")).toBe("");
    },
    600_000,
  );
});

describe("skipped rows in pqm train", () => {
  it("trains once --max-skipped-share allows the share, showing the count; --strict names the row", async () => {
    const file = "train-skipped-rows.jsonl";
    const allowed = await runCli(
      ["train", "--train", file, "--max-skipped-share", "0.5", "--steps", "1", "--out", join(scratch, "run")],
      { cwd: corpus, env: { PQM_BACKEND: "cpu" } },
    );
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(allowed.stdout).toContain("data: 1 of 3 rows skipped (33.3%: label-tag-mismatch 1)\n");
    const strict = await runCli(["train", "--train", file, "--max-skipped-share", "0.5", "--strict"], {
      cwd: corpus,
    });
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toMatch(
      /^pqm: train-skipped-rows\.jsonl:2: field 'label': step 1 reads .*\(label-tag-mismatch\)\n$/,
    );
  });
});

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}
