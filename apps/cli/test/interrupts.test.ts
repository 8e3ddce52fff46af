import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArithEnvironment, writeJsonl } from "@pqm/data";
import type { LoopbackHub } from "@pqm/testing";
import { startLoopbackHub } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliRun } from "../src/run-cli.test-helper.js";
import { cliBinPath, runCli } from "../src/run-cli.test-helper.js";

// SIGINT and SIGTERM sent to real `pqm` processes at a moment found by watching their progress: each
// command keeps what it finished, says so with the command that resumes, exits 130 or 143, and that
// command, run again, ends with the output of an uninterrupted run.

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-interrupts-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/**
 * Runs `pqm args` and sends `signal` once `ready(stderr)` is true (checked on every stderr chunk and
 * every 20 ms), then waits for it to exit.
 */
function runInterrupted(
  args: readonly string[],
  ready: (stderr: string) => boolean,
  signal: NodeJS.Signals,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun & { signaled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBinPath, ...args], {
      cwd: folder,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = false;
    const check = () => {
      if (!sent && ready(stderr)) {
        sent = true;
        child.kill(signal);
      }
    };
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      check();
    });
    const poll = setInterval(check, 20);
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ exitCode: code ?? 128, stdout, stderr, signaled: sent });
    });
  });
}

/** The `pqm:` line of an interrupted run: what it kept and the command that resumes. */
function interruptLine(stderr: string, signal: string): { kept: string; resume: string } {
  const match = new RegExp(`^pqm: interrupted by ${signal}: (.*); resume with: (.*)$`, "m").exec(stderr);
  expect(match, stderr).not.toBeNull();
  return { kept: match![1]!, resume: match![2]! };
}

/** The words of a printed resume command (plain words only: the tests' paths have no spaces). */
function words(command: string): string[] {
  const [pqm, ...rest] = command.split(" ");
  expect(pqm).toBe("pqm");
  return rest;
}

/** Rows of a JSONL file, sorted by `index`, without the given (timing) fields. */
async function rowsWithout(path: string, fields: readonly string[]): Promise<unknown[]> {
  const text = await readFile(path, "utf8");
  const drop = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(drop);
    if (typeof value !== "object" || value === null) return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !fields.includes(key))
        .map(([key, inner]) => [key, drop(inner)]),
    );
  };
  return text
    .trim()
    .split("\n")
    .map((line) => drop(JSON.parse(line)) as { index: number })
    .sort((a, b) => a.index - b.index);
}

/** A results object without what differs from run to run (times, dates, speeds). */
function withoutTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimes);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !/seconds|createdAt|stages|tokensPerSecond|^time$/i.test(key))
      .map(([key, inner]) => [key, withoutTimes(inner)]),
  );
}

describe("pqm score interrupted", () => {
  let checkpoint = "";
  let candidates = "";
  beforeAll(async () => {
    const environment = new ArithEnvironment({ seed: 0 });
    const data = join(folder, "score-train.jsonl");
    await writeJsonl(data, environment.exactTrainingCorpus({ questions: 10, samplesPerQuestion: 2 }));
    const out = join(folder, "score-model");
    const trained = await runCli(
      [
        ...["train", "--train", data, "--backbone", "preset:tiny", "--steps", "2", "--batch-size", "4"],
        ...["--backend", "wasm", "--out", out, "--no-progress"],
      ],
      { cwd: folder },
    );
    expect(trained.exitCode, trained.stderr).toBe(0);
    checkpoint = join(out, "checkpoint-000002");
    candidates = join(folder, "score-candidates.json");
    await environment.writeCandidateFile(candidates, { questions: 60, n: 8 });
  }, 120_000);

  it("keeps the questions scored on SIGTERM; the same command resumes to the same scores file", async () => {
    const args = (name: string) => [
      ...["score", "--model", checkpoint, "--candidates", candidates, "--backend", "wasm"],
      ...["--out", join(folder, `${name}.scores.jsonl`), "--cache-dir", join(folder, `${name}-cache`)],
    ];
    const straight = await runCli(args("score-straight"), { cwd: folder });
    expect(straight.exitCode, straight.stderr).toBe(0);

    const stopped = await runInterrupted(
      args("score-stopped"),
      (stderr) => /: [1-9]\d*\/60 questions/.test(stderr),
      "SIGTERM",
    );
    expect(stopped.exitCode, stopped.stderr).toBe(143);
    const { kept, resume } = interruptLine(stopped.stderr, "SIGTERM");
    const scored = Number(/^kept the scores of (\d+) of 60 questions in .*\.partial$/.exec(kept)?.[1]);
    expect(scored).toBeGreaterThanOrEqual(1);
    expect(scored).toBeLessThan(60);
    expect(words(resume)).toEqual(args("score-stopped"));
    expect(existsSync(join(folder, "score-stopped.scores.jsonl"))).toBe(false);

    const resumed = await runCli(words(resume), { cwd: folder });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`60/60 questions \\(.*, ${scored} resumed\\)`));
    expect(await readFile(join(folder, "score-stopped.scores.jsonl"), "utf8")).toBe(
      await readFile(join(folder, "score-straight.scores.jsonl"), "utf8"),
    );
  }, 180_000);
});

describe("pqm search interrupted", () => {
  const args = (out: string, questions = 150) => [
    ...["search", "--policy", "arith", "--prm", "oracle", "--method", "beam", "--n", "8"],
    ...["--questions", String(questions), "--concurrency", "2", "--out", join(folder, out)],
  ];
  // The compute record's and the nodes' times differ from run to run; everything else is the same.
  const times = ["policyMs", "prmMs", "totalMs", "generatedAt", "scoredAt"];

  it("keeps the finished questions on SIGINT; the same command resumes to the same results", async () => {
    const straight = await runCli(args("search-straight"), { cwd: folder });
    expect(straight.exitCode, straight.stderr).toBe(0);

    const stopped = await runInterrupted(
      args("search-stopped"),
      (stderr) => /search: [1-9]\d*\/150 questions/.test(stderr),
      "SIGINT",
    );
    expect(stopped.exitCode, stopped.stderr).toBe(130);
    const { kept, resume } = interruptLine(stopped.stderr, "SIGINT");
    const results = join(folder, "search-stopped", "results.jsonl");
    const finished = Number(new RegExp(`^kept (\\d+) of 150 questions in ${results}$`).exec(kept)?.[1]);
    expect(finished).toBeGreaterThanOrEqual(1);
    expect(finished).toBeLessThan(150);
    expect((await readFile(results, "utf8")).trim().split("\n")).toHaveLength(finished);
    expect(words(resume)).toEqual(args("search-stopped"));

    const resumed = await runCli([...words(resume), "--json"], { cwd: folder });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ resumed: finished, questions: 150 });
    expect(await rowsWithout(results, times)).toEqual(
      await rowsWithout(join(folder, "search-straight", "results.jsonl"), times),
    );
    for (const file of ["candidates.json", "scores.jsonl", "test.jsonl"]) {
      expect(await readFile(join(folder, "search-stopped", file), "utf8"), file).toBe(
        await readFile(join(folder, "search-straight", file), "utf8"),
      );
    }
  }, 180_000);

  it("refuses to resume results of other settings, and --overwrite starts over", async () => {
    const first = await runCli(args("search-other", 3), { cwd: folder });
    expect(first.exitCode, first.stderr).toBe(0);
    const other = args("search-other", 3).map((word) => (word === "8" ? "4" : word));
    const refused = await runCli(other, { cwd: folder });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(
      /results\.jsonl:1: field 'run': the file holds results of another run .*; start over with --overwrite, or choose another --out\n$/,
    );
    const overwritten = await runCli([...other, "--overwrite", "--json"], { cwd: folder });
    expect(overwritten.exitCode, overwritten.stderr).toBe(0);
    expect(JSON.parse(overwritten.stdout)).toMatchObject({ n: 4, resumed: 0, questions: 3 });
  }, 120_000);
});

describe("pqm data download interrupted", () => {
  let hub: LoopbackHub;
  const big = randomBytes(200_000);
  const sha256 = createHash("sha256").update(big).digest("hex");
  beforeAll(async () => {
    hub = await startLoopbackHub();
  });
  afterAll(async () => {
    await hub.close();
  });

  it("keeps the bytes received on SIGINT; the same command resumes and verifies the file", async () => {
    const cache = join(folder, "hub-cache");
    const env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "", HF_TOKEN: "" };
    hub.addFile("datasets/acme/interrupted", "big.bin", big, { lfs: true });
    // The server sends 80 kB, then nothing more on that connection: the signal lands mid-body.
    hub.behavior.stallNextGetAfter = 80_000;
    const partial = join(cache, "datasets--acme--interrupted", "blobs", `${sha256}.incomplete`);
    const uri = "hf://datasets/acme/interrupted/big.bin";
    const stopped = await runInterrupted(
      ["data", "download", uri],
      () => existsSync(partial) && statSync(partial).size === 80_000,
      "SIGINT",
      { env },
    );
    expect(stopped.exitCode, stopped.stderr).toBe(130);
    const { kept, resume } = interruptLine(stopped.stderr, "SIGINT");
    expect(kept).toBe(
      `kept 80000 of 200000 bytes of ${uri} in ${partial}; a later download resumes from there`,
    );
    expect(resume).toBe(`pqm data download ${uri}`);
    expect(statSync(partial).size).toBe(80_000);

    const resumed = await runCli(words(resume), { cwd: folder, env });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(resumed.stderr.split("\n")[0]).toBe(`downloading ${uri} (200.0 kB, resuming at 80.0 kB)`);
    const file = resumed.stdout.trim();
    expect(
      createHash("sha256")
        .update(await readFile(file))
        .digest("hex"),
    ).toBe(sha256);
    expect(existsSync(partial)).toBe(false);
  }, 60_000);
});

describe("pqm annotate interrupted", () => {
  const args = (name: string) => [
    ...["annotate", "--arith", "300", "--samples", "4", "--completer", "arith", "--n", "8"],
    ...["--concurrency", "4", "--output", join(folder, `${name}.jsonl`)],
  ];

  it("keeps the finished rows on SIGTERM; the same command resumes to the same rows", async () => {
    const straight = await runCli(args("annotate-straight"), { cwd: folder });
    expect(straight.exitCode, straight.stderr).toBe(0);
    const output = join(folder, "annotate-stopped.jsonl");
    // Once a few rows are written (the output grows row by row).
    const stopped = await runInterrupted(
      args("annotate-stopped"),
      () => existsSync(output) && statSync(output).size > 20_000,
      "SIGTERM",
    );
    expect(stopped.exitCode, stopped.stderr).toBe(143);
    const { kept, resume } = interruptLine(stopped.stderr, "SIGTERM");
    const match = new RegExp(`^kept (\\d+) of 1200 rows in ${output} \\((\\d+) labeled now\\)$`).exec(kept);
    expect(match, kept).not.toBeNull();
    const rows = Number(match![1]);
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(1200);
    expect((await readFile(output, "utf8")).trim().split("\n")).toHaveLength(rows);
    expect(words(resume)).toEqual(args("annotate-stopped"));

    const resumed = await runCli([...words(resume), "--json"], { cwd: folder });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ summary: { resumedRows: rows, totalRows: 1200 } });
    expect(await rowsWithout(output, [])).toEqual(
      await rowsWithout(join(folder, "annotate-straight.jsonl"), []),
    );
  }, 120_000);
});

describe("pqm demo and pqm experiment interrupted", () => {
  it("demo: SIGTERM while training keeps the annotation; the same command resumes to the same results", async () => {
    const args = (out: string) => ["demo", "--quick", "--backend", "wasm", "--out", join(folder, out)];
    const straight = await runCli(args("demo-straight"), { cwd: folder, timeoutMs: 240_000 });
    expect(straight.exitCode, straight.stderr).toBe(0);

    // Both models are in training: they are abandoned, the labeled corpus stays.
    const stopped = await runInterrupted(
      args("demo-stopped"),
      (stderr) => /train and score both models .*\.\.\./.test(stderr),
      "SIGTERM",
    );
    expect(stopped.exitCode, stopped.stderr).toBe(143);
    const { kept, resume } = interruptLine(stopped.stderr, "SIGTERM");
    expect(kept).toBe(`kept in ${join(folder, "demo-stopped")}: seed 0: annotation`);
    expect(words(resume)).toEqual(args("demo-stopped"));

    const resumed = await runCli(words(resume), { cwd: folder, timeoutMs: 240_000 });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    const results = async (out: string) =>
      withoutTimes(JSON.parse(await readFile(join(folder, out, "results.json"), "utf8")));
    const expected = await results("demo-straight");
    expect(await results("demo-stopped")).toEqual(
      // The command recorded is the one typed: only the folder differs.
      JSON.parse(JSON.stringify(expected).replaceAll("demo-straight", "demo-stopped")),
    );

    // Run again, finished: both models are read back, not trained again.
    const again = await runCli(words(resume), { cwd: folder, timeoutMs: 240_000 });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/pqm: trained by an earlier run, read from .*model-pqm\.result\.json/);
    expect(again.stderr).toMatch(/bce: trained by an earlier run, read from .*model-bce\.result\.json/);

    // Other settings into the same folder: refused, naming --overwrite.
    const other = await runCli([...args("demo-stopped"), "--train-steps", "7"], { cwd: folder });
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain(
      `pqm: ${join(folder, "demo-stopped")} already holds a run with other settings (recipe.trainSteps: 6 there, 7 now); ` +
        "start over there with --overwrite, or choose another --out",
    );
  }, 300_000);

  it("experiment: SIGINT while training keeps the corpus; the same command resumes to the same table", async () => {
    const args = (out: string) => [
      ...["experiment", "zeta", "--quick", "--backend", "wasm", "--out", join(folder, out)],
    ];
    const straight = await runCli([...args("zeta-straight"), "--json"], { cwd: folder, timeoutMs: 240_000 });
    expect(straight.exitCode, straight.stderr).toBe(0);

    const stopped = await runInterrupted(
      args("zeta-stopped"),
      (stderr) => /zeta: training 2 models/.test(stderr),
      "SIGINT",
    );
    expect(stopped.exitCode, stopped.stderr).toBe(130);
    const { kept, resume } = interruptLine(stopped.stderr, "SIGINT");
    expect(kept).toBe(`kept in ${join(folder, "zeta-stopped")}: annotation N=4`);
    expect(words(resume)).toEqual(args("zeta-stopped"));

    const resumed = await runCli([...words(resume), "--json"], { cwd: folder, timeoutMs: 240_000 });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    const rows = (stdout: string) => withoutTimes((JSON.parse(stdout) as { rows: unknown[] }).rows);
    expect(rows(resumed.stdout)).toEqual(rows(straight.stdout));
    // Each model kept its own metrics log.
    for (const name of ["0-zeta=0", "1-zeta=4"]) {
      expect(existsSync(join(folder, "zeta-stopped", `metrics-${name}.jsonl`)), name).toBe(true);
    }
  }, 300_000);
});

describe("a signal before there is anything to keep", () => {
  it("pqm train ends at once, saying nothing was kept", async () => {
    await mkdir(join(folder, "early"), { recursive: true });
    const data = join(folder, "early", "train.jsonl");
    await writeJsonl(
      data,
      new ArithEnvironment({ seed: 0 }).exactTrainingCorpus({ questions: 4, samplesPerQuestion: 1 }),
    );
    const stopped = await runInterrupted(
      [
        "train",
        "--train",
        data,
        "--backbone",
        "preset:tiny",
        "--steps",
        "2",
        "--out",
        join(folder, "early", "run"),
      ],
      (stderr) => /^training on /m.test(stderr),
      "SIGINT",
    );
    expect(stopped.exitCode).toBe(130);
    expect(stopped.stderr).toMatch(/^pqm: SIGINT before training started: nothing to keep$/m);
  }, 60_000);
});
