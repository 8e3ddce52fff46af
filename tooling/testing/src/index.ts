export type { HubBehavior, LoopbackHub, SeenRequest } from "./loopback-hub.js";
export { startLoopbackHub } from "./loopback-hub.js";
export { repoRoot, sharedAvailable, sharedPath, sharedRoot, sharedSkipReason } from "./shared-data.js";
export type { ConformanceBackend, DescribeEachBackendOptions } from "./tfjs-backends.js";
export { conformanceBackends, describeEachBackend, useBackend } from "./tfjs-backends.js";
export type { WebGpuAdapterDescription, WebGpuProbe } from "./webgpu.js";
export { registerWebGpuBackend, webgpuProbe } from "./webgpu.js";
