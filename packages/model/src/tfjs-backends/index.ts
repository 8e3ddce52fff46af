// The public API of the TF.js backend area: choosing and starting the fastest installed backend.
// The wasm kernel overrides it installs (fast BatchMatMul, shared-data Identity, ONNX Runtime's
// matrix products, the threads shim) and the webgpu Softmax fix are internal.
export type {
  BackendChoice,
  BackendSelection,
  SelectBackendOptions,
  WasmMatMulChoice,
} from "./select-backend.js";
export { BACKEND_PREFERENCE, currentBackendSelection, selectBackend } from "./select-backend.js";
export type { WebGpuAdapterInfo } from "./webgpu-backend.js";
