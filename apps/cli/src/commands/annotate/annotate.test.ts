import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AnnotatedRow, ArithEnvironment, annotate, startArithCompletionServer } from "@pqm/data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-annotate-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

interface Report {
  summary: {
    totalRows: number;
    resumedRows: number;
    writtenRows: number;
    rollouts: number;
    failures: unknown[];
  };
  exactAgreement?: { steps: number; share: number };
}

async function readRows(path: string): Promise<AnnotatedRow[]> {
  const text = await readFile(path, "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as AnnotatedRow);
}

describe("pqm annotate", () => {
  it("labels generated arith solutions like @pqm/data's annotate, and a second run resumes", async () => {
    const output = join(folder, "arith-labels.jsonl");
    const args = ["annotate", "--arith", "3", "--samples", "2", "--completer", "arith", "--n", "4"];
    const first = await runCli([...args, "--output", output, "--json"]);
    expect(first.exitCode, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as Report;
    expect(report.summary).toMatchObject({ totalRows: 6, resumedRows: 0, writtenRows: 6, failures: [] });
    expect(report.exactAgreement?.steps).toBeGreaterThan(0);
    const rows = await readRows(output);
    expect(rows).toHaveLength(6);

    // The same run in-process: the rollouts are seeded per row and step, so the labels are equal.
    const environment = new ArithEnvironment({ seed: 0 });
    const expected = await annotate(environment.sampleTrajectories({ questions: 3, samplesPerQuestion: 2 }), {
      completer: environment.policy,
      n: 4,
    });
    const byIndex = (list: AnnotatedRow[]) => [...list].sort((a, b) => a.index - b.index);
    expect(byIndex(rows).map((row) => [row.hardLabels, row.softLabels])).toEqual(
      byIndex(expected.rows).map((row) => [row.hardLabels, row.softLabels]),
    );

    const before = await readFile(output, "utf8");
    const second = await runCli([...args, "--output", output, "--json"]);
    expect(second.exitCode, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as Report).summary).toMatchObject({
      totalRows: 6,
      resumedRows: 6,
      writtenRows: 0,
      rollouts: 0,
    });
    expect(await readFile(output, "utf8")).toBe(before);

    // Another --n into the same output is refused, naming the setting; --overwrite starts over.
    const otherN = ["annotate", "--arith", "3", "--samples", "2", "--completer", "arith", "--n", "2"];
    const refused = await runCli([...otherN, "--output", output]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(
      /arith-labels\.jsonl\.run\.json: field 'n': .*with n 4, this run asks for 2/,
    );
    expect(await readFile(output, "utf8")).toBe(before);
    const fresh = await runCli([...otherN, "--output", output, "--overwrite", "--json"]);
    expect(fresh.exitCode, fresh.stderr).toBe(0);
    expect((JSON.parse(fresh.stdout) as Report).summary).toMatchObject({ resumedRows: 0, writtenRows: 6 });
  });

  it("writes its progress line to a non-terminal stderr, and none with --no-progress", async () => {
    const args = ["annotate", "--arith", "2", "--samples", "1", "--completer", "arith", "--n", "2"];
    const run = await runCli([...args, "--output", join(folder, "lines.jsonl")]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /^annotate: 2\/2 rows \(0 resumed, 0 failed\), \d+ rollouts, \d+\.\d labeled steps\/s, \d+\.\d s\n$/,
    );
    expect(run.stdout).toContain("labeled now");
    const quiet = await runCli([...args, "--output", join(folder, "quiet.jsonl"), "--no-progress"]);
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe("");
  });

  it("annotates through an OpenAI-compatible loopback server with the key from an environment variable", async () => {
    const key = "sk-pqm-cli-test-5e8d1c";
    const environment = new ArithEnvironment({ seed: 0 });
    // The server answers only questions its environment has generated: the ones --arith 2 makes.
    environment.trainQuestions(2);
    const server = await startArithCompletionServer({ environment, requiredApiKey: key });
    try {
      const output = join(folder, "openai-labels.jsonl");
      const run = await runCli(
        [
          "annotate",
          ...["--arith", "2", "--samples", "2", "--n", "4", "--output", output],
          ...["--completer", `openai:${server.url}`, "--model", "arith", "--api-key-env", "PQM_CLI_TEST_KEY"],
        ],
        { env: { PQM_CLI_TEST_KEY: key } },
      );
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/labeled now\s+4/);
      expect(run.stdout).toMatch(/agreement with exact labels\s+\d+\.\d% of \d+ steps/);
      expect(server.requests).toBeGreaterThan(0);
      expect(run.stdout + run.stderr).not.toContain(key);
      expect(await readRows(output)).toHaveLength(4);
    } finally {
      await server.close();
    }
  });
});

describe("pqm annotate: bad input", () => {
  it("refuses --api-key without echoing it, pointing at the variable or a file", async () => {
    const secret = "sk-do-not-echo-71c2";
    const run = await runCli([
      "annotate",
      ...["--arith", "1", "--completer", "arith", "--output", join(folder, "x.jsonl"), "--api-key", secret],
    ]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--api-key is refused.*--api-key-env NAME.*--api-key-file PATH/);
    expect(run.stderr + run.stdout).not.toContain(secret);
  });

  it("names the file and line of a malformed input line, with exit code 1", async () => {
    const input = join(folder, "broken.jsonl");
    await writeFile(
      input,
      '{"question": {"id": "a", "text": "1+1?", "answer": "2", "domain": "gsm"}, "steps": ["2"], "hardLabels": [1]}\n{"question": \n',
    );
    const run = await runCli([
      "annotate",
      ...["--input", input, "--completer", "arith", "--output", join(folder, "broken-labels.jsonl")],
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/broken\.jsonl:2/);
  });

  it("refuses questions the arith completer cannot continue, naming the row", async () => {
    const input = join(folder, "plain.jsonl");
    await writeFile(
      input,
      '{"question": {"id": "a", "text": "What is 1+1?", "answer": "2", "domain": "gsm"}, "steps": ["1+1=2", "The answer is 2"], "hardLabels": [1, 1]}\n',
    );
    const run = await runCli([
      "annotate",
      ...["--input", input, "--completer", "arith", "--output", join(folder, "plain-labels.jsonl")],
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/plain\.jsonl: row 1 \(question a\) is not an arith question/);
  });

  it("refuses --input with --arith, and an unknown completer, with a usage exit code", async () => {
    const both = await runCli([
      "annotate",
      ...["--input", "x.jsonl", "--arith", "2", "--completer", "arith", "--output", join(folder, "y.jsonl")],
    ]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --input <file> and --arith <count>/);
    const completer = await runCli([
      "annotate",
      ...["--arith", "2", "--completer", "vllm://host", "--output", join(folder, "y.jsonl")],
    ]);
    expect(completer.exitCode).toBe(2);
    expect(completer.stderr).toMatch(/--completer 'vllm:\/\/host' is not 'arith' or 'openai:/);
  });
  it("counts and shows the input rows its reader skipped, and --strict stops at the first one", async () => {
    // A Math-Shepherd file from the malformed corpus: row 2 carries a sign too many.
    const input = fileURLToPath(new URL("../../../test/malformed/ms-extra-sign.jsonl", import.meta.url));
    const args = ["annotate", "--input", input, "--completer", "arith", "--format", "math-shepherd"];
    const lenient = await runCli([...args, "--output", join(folder, "ms.jsonl")]);
    // Math-Shepherd rows carry no gold answer, so the run stops after reading, having said what it skipped.
    expect(lenient.exitCode).toBe(1);
    expect(lenient.stderr).toMatch(/1 of \d+ rows skipped \([\d.]+%: label-tag-mismatch 1\)/);
    const strict = await runCli([...args, "--strict", "--output", join(folder, "ms-strict.jsonl")]);
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toMatch(/ms-extra-sign\.jsonl:2: field 'label'/);
    expect(strict.stderr).not.toMatch(/rows skipped/);
  });
});
