import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

// Runs the built bin (cd apps/cli && npx tsup first): make-arith's files, the docs' examples on
// them, file-system errors as one line, and relative paths from the caller's folder.

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../..");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-make-arith-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("pqm data make-arith", () => {
  it("writes the docs' candidate and test files, aligned, the same for the same seed", async () => {
    const run = await runCli(
      ["data", "make-arith", "--questions", "3", "--n", "4", "--seed", "5", "--json"],
      {
        cwd: dir,
      },
    );
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ questions: 3, n: 4, seed: 5 });
    const candidates = JSON.parse(await readFile(join(dir, "arith-candidates.json"), "utf8")) as Array<{
      question: string;
      responses: Array<{ text: string; process_labels: number[] }>;
    }>;
    const test = (await readFile(join(dir, "arith-test.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { question: string; answer: string });
    expect(candidates).toHaveLength(3);
    expect(test).toHaveLength(3);
    expect(candidates.map((set) => set.question)).toEqual(test.map((row) => row.question));
    for (const set of candidates) {
      expect(set.responses).toHaveLength(4);
      for (const response of set.responses) expect(response.process_labels.length).toBeGreaterThan(0);
    }
    const first = await readFile(join(dir, "arith-candidates.json"), "utf8");
    await runCli(["data", "make-arith", "--questions", "3", "--n", "4", "--seed", "5"], { cwd: dir });
    expect(await readFile(join(dir, "arith-candidates.json"), "utf8")).toBe(first);
  });

  it("eval bon: too few candidates for an n names the flag; the flag is checked", async () => {
    const args = ["eval", "bon", "--test", "arith-test.jsonl", "--candidates", "arith-candidates.json"];
    const run = await runCli(
      [...args, "--scores", "none.jsonl", "--n", "1,8", "--domain", "gsm", "--no-progress"],
      {
        cwd: dir,
      },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim()).toBe(
      "pqm: arith-candidates.json: question 1 has 4 candidates, fewer than n = 8; pass --too-few-candidates exclude " +
        "to leave such questions out of that n, or choose a smaller --n",
    );
    // With the flag the run goes on, to the (missing) scores file.
    const excluded = await runCli(
      [
        ...args,
        "--scores",
        "none.jsonl",
        "--n",
        "1,8",
        "--domain",
        "gsm",
        "--no-progress",
        "--too-few-candidates",
        "exclude",
      ],
      { cwd: dir },
    );
    expect(excluded.stderr.trim()).toMatch(/^pqm: none\.jsonl.*: no such file; check the path/);
    const bad = await runCli([...args, "--scores", "none.jsonl", "--too-few-candidates", "drop"], {
      cwd: dir,
    });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--too-few-candidates");
  });
});

describe("pqm: file-system errors and working folders", () => {
  it("a missing file or folder, and a folder under a file, in one line naming the path and its role", async () => {
    const missing = await runCli(["data", "inspect", "bad/nope.jsonl"], { cwd: dir });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toBe(
      `pqm: bad/nope.jsonl (the step-labeled file): the folder bad does not exist; create it first or check the path (relative paths start from ${dir})\n`,
    );
    // pqm train says it the same way.
    const train = await runCli(["train", "--train", "bad/nope.jsonl", "--steps", "1", "--out", "runs"], {
      cwd: dir,
    });
    expect(train.exitCode).toBe(1);
    expect(train.stderr).toBe(
      `pqm: bad/nope.jsonl (the training data): the folder bad does not exist; create it first or check the path (relative paths start from ${dir})\n`,
    );
    const file = await runCli(["data", "inspect", "nope.jsonl"], { cwd: dir });
    expect(file.stderr).toBe(
      `pqm: nope.jsonl (the step-labeled file): no such file; check the path (relative paths start from ${dir})\n`,
    );
    await writeFile(join(dir, "plain"), "x");
    const underFile = await runCli(
      ["data", "make-arith", "--candidates", "plain/c.json", "--test", "t.jsonl"],
      {
        cwd: dir,
      },
    );
    expect(underFile.exitCode).toBe(1);
    expect(underFile.stderr).toBe(
      `pqm: plain/c.json (the candidate file): ${join(dir, "plain")} is a file, not a folder; choose another path\n`,
    );
  });

  it("relative paths start from the caller's folder, also through the clone's `pnpm pqm` script", async () => {
    // `node apps/cli/dist/bin.js` (or a linked `pqm`) run from another folder.
    const direct = await runCli(
      ["data", "make-arith", "--candidates", "sub/c.json", "--test", "sub/t.jsonl"],
      {
        cwd: dir,
      },
    );
    expect(direct.exitCode).toBe(0);
    expect((await readFile(join(dir, "sub", "t.jsonl"), "utf8")).length).toBeGreaterThan(0);
    // What `pnpm pqm ...` typed in `dir` does: the root script runs at the repository root, with
    // INIT_CWD, npm_lifecycle_event and npm_package_name set by the package manager.
    const viaScript = await runCli(
      ["data", "make-arith", "--candidates", "via/c.json", "--test", "via/t.jsonl"],
      {
        cwd: repositoryRoot,
        env: { INIT_CWD: dir, npm_lifecycle_event: "pqm", npm_package_name: "pqm-monorepo" },
      },
    );
    expect(viaScript.exitCode).toBe(0);
    expect((await readFile(join(dir, "via", "c.json"), "utf8")).startsWith("[")).toBe(true);
  });
});
