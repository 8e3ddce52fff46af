import { existsSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import type { ViteUserConfig } from "vitest/config";
import { repoRoot } from "./shared-data.js";

/** Workspace packages resolved to their sources in tests, so a test never needs a build first. */
const workspacePackages: Record<string, string> = {
  "@pqm/core": "packages/core/src/index.ts",
  "@pqm/data": "packages/data/src/index.ts",
  "@pqm/model": "packages/model/src/index.ts",
  "@pqm/eval": "packages/eval/src/index.ts",
};

/** The vitest configuration every pqm package uses; `overrides.test` is merged over the defaults. */
export function pqmVitestConfig(overrides: { test?: Record<string, unknown> } = {}): ViteUserConfig {
  const alias: Record<string, string> = {};
  for (const [name, file] of Object.entries(workspacePackages)) {
    const path = join(repoRoot, file);
    if (existsSync(path)) alias[name] = path;
  }
  return defineConfig({
    resolve: { alias },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      pool: "forks",
      maxWorkers: 2,
      ...overrides.test,
    },
  });
}
