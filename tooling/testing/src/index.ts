export { repoRoot, sharedAvailable, sharedPath, sharedRoot, sharedSkipReason } from "./shared-data.js";
export type { ConformanceBackend } from "./tfjs-backends.js";
export { conformanceBackends, describeEachBackend, useBackend } from "./tfjs-backends.js";
