import { webgpuProbe } from "@pqm/testing";
import { describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";

// The batch of the worked example holds the two test trajectories of docs/method.md (section 4.6), so
// each PQM batch loss is the mean of the two per-trajectory values given there (zeta = 4).
const practical = (1.898974 + 4.035872) / 2;
const paperEra = (2.034753 + 4.04161) / 2;

describe("pqm example (through the built binary)", () => {
  it("prints every loss, tensor op equal to reference, with the method's test-vector values", async () => {
    const run = await runCli(["example", "--json"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as {
      losses: { loss: string; tensor: number; reference: number }[];
      ordering: { holds: boolean }[];
    };
    const byName = new Map(result.losses.map((row) => [row.loss, row]));
    expect([...byName.keys()].sort()).toEqual(
      ["bce", "mse", "orm", "pqm", "pqm-ablation", "pqm-paper", "pqm-theory"].sort(),
    );
    expect(byName.get("pqm")?.reference).toBeCloseTo(practical, 5);
    expect(byName.get("pqm-paper")?.reference).toBeCloseTo(paperEra, 5);
    for (const row of result.losses) expect(Math.abs(row.tensor - row.reference)).toBeLessThan(1e-4);
    // [1, 2, 3, -1] with labels [1, 1, 1, 0] respects the ordering around the anchor 0;
    // [0, 0, 0] with [1, 1, 0] does not (the correct steps do not rise above the anchor).
    expect(result.ordering.map((row) => row.holds)).toEqual([true, false]);
  });

  it("prints a readable table without --json", async () => {
    const run = await runCli(["example", "--backend", "wasm"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Worked example on wasm, zeta = 4/);
    expect(run.stdout).toMatch(/pqm-theory/);
  });

  it("rejects a bad zeta with one line and a usage exit code", async () => {
    const run = await runCli(["example", "--zeta", "abc"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/'abc' is not a number/);
  });

  it("rejects an unknown backend naming it", async () => {
    const run = await runCli(["example", "--backend", "webgpu-nope"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim()).toBe(
      "pqm: unknown TF.js backend 'webgpu-nope' (available here: cpu, wasm, webgpu)",
    );
  });

  // On WebGPU (lavapipe in CI): the same losses, read back asynchronously, and the adapter named.
  const webgpu = webgpuProbe();
  it.skipIf(!webgpu.available)(
    `runs on webgpu and agrees with the references${webgpu.skipReason}`,
    async () => {
      const run = await runCli(["example", "--backend", "webgpu", "--json"]);
      expect(run.exitCode, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as {
        backend: string;
        losses: { loss: string; tensor: number; reference: number }[];
      };
      expect(result.backend).toMatch(/^webgpu \(.+\)$/);
      expect(result.losses).toHaveLength(7);
      for (const row of result.losses)
        expect(Math.abs(row.tensor - row.reference), row.loss).toBeLessThan(1e-4);
      expect(result.losses.find((row) => row.loss === "pqm")?.tensor).toBeCloseTo(practical, 4);
    },
  );

  it("answers --help at once without loading the commands", async () => {
    const started = performance.now();
    const run = await runCli(["--help"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/Usage: pqm/);
    expect(run.stdout).toMatch(/example/);
    // Recorded for the log only: speed is measured by benchmarks, not asserted here.
    console.log(`pqm --help took ${(performance.now() - started).toFixed(0)} ms`);
  });
});
