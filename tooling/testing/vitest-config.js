// Plain JavaScript on purpose: vitest loads config files through Node, which cannot import the
// TypeScript sources of a workspace package. Types are in vitest-config.d.ts.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Workspace packages resolved to their sources in tests, so a test never needs a build first. */
const workspacePackages = {
  "@pqm/core/reference": "packages/core/src/reference.ts",
  "@pqm/core": "packages/core/src/index.ts",
  "@pqm/data": "packages/data/src/index.ts",
  "@pqm/model": "packages/model/src/index.ts",
  "@pqm/eval": "packages/eval/src/index.ts",
};

/** The vitest configuration every pqm package uses; `overrides.test` is merged over the defaults. */
export function pqmVitestConfig(overrides = {}) {
  const alias = [];
  for (const [name, file] of Object.entries(workspacePackages)) {
    const path = join(repoRoot, file);
    if (existsSync(path))
      alias.push({ find: new RegExp(`^${name.replace("/", "\\/")}$`), replacement: path });
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
