import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DemoResults } from "@pqm/pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-demo-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("pqm demo (scaled down, through the built binary)", () => {
  it("runs the whole pipeline and writes results.json equal to its --json output", async () => {
    const out = join(folder, "quick");
    const run = await runCli(["demo", "--quick", "--backend", "wasm", "--out", out, "--json"], {
      timeoutMs: 240_000,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as DemoResults;
    const written = JSON.parse(await readFile(join(out, "results.json"), "utf8")) as DemoResults;
    expect(written).toEqual(printed);
    expect(printed.format).toBe("pqm-demo/1");
    expect(printed.summary.ns).toEqual([1, 4, 8]);
    // Progress went to stderr, one line per stage at least.
    expect(run.stderr).toMatch(/annotate done in/);
    expect(run.stderr).toMatch(/train and score both models .*done in/);

    const [seed] = printed.runs;
    expect(seed?.corpus.trajectories).toBe(24 * 2);
    expect(seed?.test.questions).toBe(6);
    // Baselines behave as theory says: pass@n never falls with n, random stays at the policy's accuracy.
    const pass = printed.summary.bestOfN.pass.map((value) => value.mean);
    for (let i = 1; i < pass.length; i++) expect(pass[i]).toBeGreaterThanOrEqual(pass[i - 1]! - 1e-12);
    for (const value of printed.summary.bestOfN.random) {
      expect(value.mean).toBeCloseTo(printed.summary.policyAccuracy.mean, 10);
    }
    // Every accuracy is a share.
    for (const curve of Object.values(printed.summary.bestOfN)) {
      for (const value of curve) {
        expect(value.mean).toBeGreaterThanOrEqual(0);
        expect(value.mean).toBeLessThanOrEqual(1);
      }
    }
    for (const file of [
      "index.html",
      "report.md",
      "accuracy-vs-n.svg",
      "accuracy-vs-n.png",
      "report-pqm/index.html",
    ]) {
      expect((await stat(join(out, file))).size, file).toBeGreaterThan(100);
    }
    const markdown = await readFile(join(out, "report.md"), "utf8");
    expect(markdown).toContain(printed.verdict);
  });

  it("prints the tables without --json", async () => {
    const run = await runCli(["demo", "--quick", "--out", join(folder, "tables"), "--n", "1,2"], {
      timeoutMs: 240_000,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Best-of-n accuracy/);
    expect(run.stdout).toMatch(/PQM \(ranking loss, zeta 4\)/);
    expect(run.stdout).toMatch(/Report: .*index\.html/);
  });

  it("refuses an n larger than the candidates with a usage exit code", async () => {
    const run = await runCli(["demo", "--quick", "--n", "1,99", "--out", join(folder, "bad")]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim()).toBe("pqm: --n 99 is larger than --candidates 8");
  });
});
