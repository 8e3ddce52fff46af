import { pqmVitestConfig } from "./vitest-config.js";

export default pqmVitestConfig();
