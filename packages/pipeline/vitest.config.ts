import { pqmVitestConfig } from "@pqm/testing/vitest-config";

// The pipeline tests run the package built from the current sources (see test/build-for-tests.ts).
export default pqmVitestConfig({ test: { globalSetup: ["./test/build-for-tests.ts"] } });
