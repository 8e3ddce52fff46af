import { pqmVitestConfig } from "./src/vitest-config.js";

export default pqmVitestConfig();
