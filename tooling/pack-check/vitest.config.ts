import { pqmVitestConfig } from "@pqm/testing/vitest-config";

export default pqmVitestConfig();
