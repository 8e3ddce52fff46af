import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { consumerEnv, run, runWithRetry, succeeded, tail, transientInstallFailure } from "./proc.js";

describe("consumerEnv", () => {
  it("drops what pnpm and npm add to a script's environment and the workspace's PATH entries", () => {
    const root = join("/", "repo");
    const env = consumerEnv(root, {
      HOME: "/home/u",
      npm_config_registry: "http://localhost:1",
      npm_package_name: "x",
      pnpm_config_verify_deps_before_run: "false",
      PATH: [
        join(root, "node_modules", ".bin"),
        join(root, "tooling", "x", "node_modules", ".bin"),
        "/usr/bin",
      ].join(delimiter),
    });
    expect(env).toEqual({ HOME: "/home/u", PATH: "/usr/bin" });
  });
});

describe("run", () => {
  it("captures output and the exit code, and stops a command at its timeout", async () => {
    const ok = await run(process.execPath, ["-e", "console.log('out'); console.error('err')"], {
      cwd: process.cwd(),
      env: process.env,
      timeoutMs: 30_000,
    });
    expect(succeeded(ok)).toBe(true);
    expect(ok.output).toContain("out");
    expect(ok.output).toContain("err");
    const slow = await run(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], {
      cwd: process.cwd(),
      env: process.env,
      timeoutMs: 300,
    });
    expect(slow.timedOut).toBe(true);
    expect(succeeded(slow)).toBe(false);
  });
});

describe("runWithRetry", () => {
  it("runs a command that timed out once more, and a plain failure once", async () => {
    const folder = mkdtempSync(join(tmpdir(), "pqm-retry-"));
    try {
      // First try: leaves a mark and hangs past the timeout; second try: finds the mark and succeeds.
      const marker = join(folder, "tried");
      const script = `const fs = require("node:fs");
        if (fs.existsSync(${JSON.stringify(marker)})) { console.log("second"); process.exit(0); }
        fs.writeFileSync(${JSON.stringify(marker)}, "");
        setTimeout(() => {}, 60000);`;
      const options = { cwd: folder, env: process.env, timeoutMs: 1_000 };
      const retried = await runWithRetry(process.execPath, ["-e", script], options, transientInstallFailure);
      expect(succeeded(retried)).toBe(true);
      expect(retried.output).toMatch(/^\(the first try timed out after \d+ s; this is the second\)\nsecond/);
      // A failure that is neither a timeout nor a network error is not tried again.
      const counter = join(folder, "count");
      const failing = `const fs = require("node:fs");
        fs.appendFileSync(${JSON.stringify(counter)}, "x");
        console.error("npm error code E404"); process.exit(1);`;
      const failed = await runWithRetry(process.execPath, ["-e", failing], options, transientInstallFailure);
      expect(succeeded(failed)).toBe(false);
      expect(readFileSync(counter, "utf8")).toBe("x");
      // npm's network errors count as transient.
      expect(transientInstallFailure({ ...failed, output: "npm error code ECONNRESET" })).toBe(true);
      expect(transientInstallFailure({ ...failed, output: "npm error code E404" })).toBe(false);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("tail", () => {
  it("keeps the last lines, says how many it left out and removes colour codes", () => {
    expect(tail("a\nb\n\u001b[31mc\u001b[0m\n", 2)).toBe("... (1 earlier lines)\nb\nc");
  });
});
