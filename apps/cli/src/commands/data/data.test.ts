import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoopbackHub } from "@pqm/testing";
import { sharedAvailable, sharedPath, sharedSkipReason, startLoopbackHub } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-data-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe.skipIf(!sharedAvailable)(`pqm data inspect / convert on shared files${sharedSkipReason}`, () => {
  it("inspects the Math-Shepherd sample: 7 rows, 25 steps, 5 of them correct", async () => {
    const run = await runCli([
      "data",
      "inspect",
      sharedPath("data", "math-shepherd", "sample.jsonl"),
      "--json",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      format: string;
      trajectories: number;
      steps: number;
      correctStepShare: number;
    };
    expect(report.format).toBe("math-shepherd");
    expect(report.trajectories).toBe(7);
    expect(report.steps).toBe(25);
    expect(report.correctStepShare).toBeCloseTo(5 / 25, 10);
  });

  it("converts ProcessBench to Math-Shepherd, counting what the target cannot hold, and reads it back", async () => {
    const output = join(folder, "processbench-gsm8k.jsonl");
    const run = await runCli([
      "data",
      "convert",
      sharedPath("data", "processbench", "gsm8k.json"),
      output,
      "--json",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { written: number; unwritable: { count: number } };
    expect(report.written + report.unwritable.count).toBe(400);
    const lines = (await readFile(output, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(report.written);
    const back = await runCli(["data", "inspect", output, "--json"]);
    expect((JSON.parse(back.stdout) as { trajectories: number }).trajectories).toBe(report.written);
  });

  it("converts soft labels to Math-Shepherd with soft_label kept", async () => {
    const output = join(folder, "soft.jsonl");
    const input = sharedPath("data", "soft-labels", "example_responses_n15_qwen2.5_3b_math_process.jsonl");
    const run = await runCli(["data", "convert", input, output]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/wrote 150 trajectories \(soft-labels -> math-shepherd\)/);
    const first = JSON.parse((await readFile(output, "utf8")).split("\n")[0] ?? "{}") as {
      soft_label?: number[];
    };
    expect(Array.isArray(first.soft_label)).toBe(true);
  });
});

describe("pqm data: bad input", () => {
  it("inspect names the file and line of a malformed JSON line, with exit code 1", async () => {
    const file = join(folder, "broken.jsonl");
    await writeFile(
      file,
      '{"input": "Q Step 1: a ки", "label": "Q Step 1: a +", "task": "GSM8K"}\n{"input": \n',
    );
    const run = await runCli(["data", "inspect", file]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/broken\.jsonl:2/);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("convert refuses an unknown --to with a usage exit code", async () => {
    const file = join(folder, "one.jsonl");
    await writeFile(file, '{"input": "Q Step 1: a ки", "label": "Q Step 1: a +", "task": "GSM8K"}\n');
    const run = await runCli(["data", "convert", file, join(folder, "out.jsonl"), "--to", "csv"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--to 'csv' is not an output format/);
  });

  it("download fails offline with one line naming the cache folder", async () => {
    const run = await runCli(["data", "download", "hf://datasets/owner/name/file.jsonl", "--no-progress"], {
      env: { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: join(folder, "hub-cache") },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/hub-cache/);
  });

  it("download resolves a known name to the local data folder when PQM_DATA_DIR has it", async () => {
    const run = await runCli(["data", "download", "math500", "--json"], {
      env: { PQM_DATA_DIR: sharedPath("data") },
    });
    if (!sharedAvailable) return;
    expect(run.exitCode, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { path: string }).path).toBe(
      sharedPath("data", "math500", "test.jsonl"),
    );
  });
});

describe("pqm data download from a Hub (a loopback stand-in)", () => {
  let hub: LoopbackHub;
  const big = randomBytes(200_000);
  const sha256 = createHash("sha256").update(big).digest("hex");
  beforeAll(async () => {
    hub = await startLoopbackHub();
  });
  afterAll(async () => {
    await hub.close();
  });
  const hubEnv = (cache: string) => ({
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: join(folder, cache),
    HF_HUB_OFFLINE: "",
    HF_TOKEN: "",
  });

  it("writes progress lines to a non-terminal stderr, and the retry after a dropped connection", async () => {
    hub.addFile("datasets/acme/cli", "big.bin", big, { lfs: true });
    hub.behavior.dropNextGetAfter = 100_000;
    const uri = "hf://datasets/acme/cli/big.bin";
    const run = await runCli(["data", "download", uri], { env: hubEnv("hub-lines") });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/datasets--acme--cli[/\\]snapshots[/\\].*big\.bin$/);
    const lines = run.stderr.trim().split("\n");
    expect(lines[0]).toBe(`downloading ${uri} (200.0 kB)`);
    expect(
      lines.some((line) => line.startsWith(`download of ${uri} interrupted`) && line.includes("resuming")),
    ).toBe(true);
    expect(lines.at(-1)).toMatch(
      /^downloaded hf:\/\/datasets\/acme\/cli\/big\.bin \(200\.0 kB in \d+\.\d s\)$/,
    );
  });

  it("says where it resumes a partial file left by an earlier run, and prints nothing on stderr with --json", async () => {
    hub.addFile("datasets/acme/cli2", "big.bin", big, { lfs: true });
    const blobs = join(folder, "hub-resume", "datasets--acme--cli2", "blobs");
    await mkdir(blobs, { recursive: true });
    await writeFile(join(blobs, `${sha256}.incomplete`), big.subarray(0, 50_000));
    const uri = "hf://datasets/acme/cli2/big.bin";
    const run = await runCli(["data", "download", uri], { env: hubEnv("hub-resume") });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr.split("\n")[0]).toBe(`downloading ${uri} (200.0 kB, resuming at 50.0 kB)`);

    hub.addFile("datasets/acme/cli3", "big.bin", big, { lfs: true });
    const quiet = await runCli(["data", "download", "hf://datasets/acme/cli3/big.bin", "--json"], {
      env: hubEnv("hub-json"),
    });
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(JSON.parse(quiet.stdout)).toMatchObject({ source: "hf://datasets/acme/cli3/big.bin" });
  });
});
