import { pqmVitestConfig } from "@pqm/testing/vitest-config";

// The in-process and command tests of src/. The process-level suites of test/ (the malformed-file
// corpus, interrupts, kill-and-resume) run as their own turbo task, `test:process`, whose inputs leave
// out the Node version: see vitest.process.config.ts.
export default pqmVitestConfig({ test: { include: ["src/**/*.test.ts"] } });
