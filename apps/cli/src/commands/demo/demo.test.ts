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
    // One level down: each model's step AUROC, and every method's accuracy at each n.
    expect(Object.keys(printed.summary.bestOfN).sort()).toEqual(
      ["bce", "bceWeighted", "majority", "pass", "pqm", "pqmWeighted", "random"].sort(),
    );
    for (const model of ["pqm", "bce"] as const) {
      expect(printed.summary.step.stepAuroc[model].mean).toBeGreaterThanOrEqual(0);
    }
    for (const curve of Object.values(printed.summary.bestOfN)) expect(curve).toHaveLength(3);
    // The searches ran with both models and the oracle at the quick recipe's N = 4.
    expect(printed.summary.search?.rows.map((row) => `${row.scorer} ${row.method}`)).toEqual([
      "pqm bon",
      "pqm beam",
      "bce bon",
      "bce beam",
      "oracle bon",
      "oracle beam",
    ]);
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
    expect(run.stdout).toMatch(/Search against best-of-N at equal generated tokens/);
  });

  it("runs no searches with --no-search, and refuses a budget that is not a multiple of the beam width", async () => {
    const out = join(folder, "no-search");
    const run = await runCli(["demo", "--quick", "--no-search", "--out", out, "--json"], {
      timeoutMs: 240_000,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as DemoResults;
    expect(printed.config.searchNs).toEqual([]);
    expect(printed.summary.search).toBeUndefined();
    const bad = await runCli(["demo", "--quick", "--search-n", "4,6", "--out", join(folder, "bad-search")]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim()).toBe("pqm: --search-n 6 is not a multiple of the beam width 4");
  });

  it("refuses an n larger than the candidates with a usage exit code", async () => {
    const run = await runCli(["demo", "--quick", "--n", "1,99", "--out", join(folder, "bad")]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim()).toBe("pqm: --n 99 is larger than --candidates 8");
  });
});
