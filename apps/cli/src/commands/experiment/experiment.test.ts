import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExperimentResults } from "@pqm/pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-experiment-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("pqm experiment (scaled down, through the built binary)", () => {
  it("runs the zeta sweep: one model per zeta, results.json equal to --json, plot and page written", async () => {
    const out = join(folder, "zeta");
    const run = await runCli(["experiment", "zeta", "--quick", "--out", out, "--json"], {
      timeoutMs: 240_000,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as ExperimentResults;
    expect(JSON.parse(await readFile(join(out, "results.json"), "utf8"))).toEqual(printed);
    expect(printed.rows.map((row) => row.zeta)).toEqual([0, 4]);
    for (const row of printed.rows) {
      expect(row.loss).toBe("pqm");
      expect(row.bestOfN.map((point) => point.n)).toEqual([1, 4, 8]);
      expect(row.stepAuroc).toBeGreaterThanOrEqual(0);
      expect(row.stepAuroc).toBeLessThanOrEqual(1);
    }
    // Same candidates for every model: best-of-1 is the same expected accuracy whatever the scores.
    expect(printed.rows[0]?.bestOfN[0]?.mean).toBeCloseTo(
      printed.rows[1]?.bestOfN[0]?.mean ?? Number.NaN,
      10,
    );
    for (const file of ["zeta.svg", "zeta.png", "index.html", "report.md"]) {
      expect((await stat(join(out, file))).size, file).toBeGreaterThan(100);
    }
  });

  it("refuses an unknown experiment with a usage exit code naming the choices", async () => {
    const run = await runCli(["experiment", "dropout", "--quick"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim()).toBe(
      "pqm: experiment 'dropout' is not one of zeta, annotation, sample-efficiency, loss-variants",
    );
  });
});
