import { pqmVitestConfig, processResultsFile } from "@pqm/testing/vitest-config";

// The process-level suites: each test runs the built `pqm` as child processes (malformed files,
// SIGINT/SIGTERM, SIGKILL and resume). Run by `pnpm test:process`, a turbo task of its own whose hash
// leaves out the Node version, so CI runs them once (on its first Node) and replays them after.
export default pqmVitestConfig({
  test: { include: ["test/**/*.test.ts"], outputFile: { json: processResultsFile } },
});
