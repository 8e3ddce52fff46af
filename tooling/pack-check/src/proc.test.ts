import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { consumerEnv, run, succeeded, tail } from "./proc.js";

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

describe("tail", () => {
  it("keeps the last lines, says how many it left out and removes colour codes", () => {
    expect(tail("a\nb\n\u001b[31mc\u001b[0m\n", 2)).toBe("... (1 earlier lines)\nb\nc");
  });
});
