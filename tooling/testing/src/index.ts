export type { HubBehavior, LoopbackHub, SeenRequest } from "./loopback-hub.js";
export { startLoopbackHub } from "./loopback-hub.js";
export { repoRoot, sharedAvailable, sharedPath, sharedRoot, sharedSkipReason } from "./shared-data.js";
export type { ConformanceBackend } from "./tfjs-backends.js";
export { conformanceBackends, describeEachBackend, useBackend } from "./tfjs-backends.js";
