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
  "@pqm/data/http": "packages/data/src/http/index.ts",
  "@pqm/model": "packages/model/src/index.ts",
  "@pqm/eval/report": "packages/eval/src/report/index.ts",
  "@pqm/eval": "packages/eval/src/index.ts",
  "@pqm/pipeline": "packages/pipeline/src/index.ts",
  "@pqm/search": "packages/search/src/index.ts",
};

/**
 * Where every package's vitest run writes its machine-readable results, relative to the package.
 * `tooling/test-summary.mjs` reads these files after `pnpm test` to print the one summary line;
 * turbo.json lists the folder as the test task's output, so a cached run restores it.
 */
export const resultsFile = ".vitest/results.json";

/**
 * Where a package's `test:process` script (`vitest run --dir test --outputFile.json=<this>`) writes its
 * results: the process-level tests that turbo runs as a separate task (see the root turbo.json).
 */
export const processResultsFile = ".vitest/process-results.json";

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
      // Keeps TF.js's console banner and advice out of the test output (see the file).
      setupFiles: [join(repoRoot, "tooling", "testing", "src", "quiet-tfjs-setup.ts")],
      // The terminal report as usual, plus a JSON file for the summary of the whole test command.
      reporters: ["default", "json"],
      outputFile: { json: resultsFile },
      ...overrides.test,
    },
  });
}
